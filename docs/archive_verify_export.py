#!/usr/bin/env python3
"""Verify a mailsuite Archive export (.zip) against the archive's hash chain.

    python3 archive_verify_export.py EXPORT.zip [--head HASH]

Needs Python 3.8+ and nothing else (standard library only; nothing of mailsuite). Exit status 0
and "OK ..." when every check passes; 1 and "BROKEN: ..." naming the first failure.

What it checks, with the export's manifest.json:
 1. every exported .eml file's SHA-256 is the blob hash its manifest entry names, and its size is
    the size in the entry's canonical metadata;
 2. every entry hash is SHA-256("mailsuite-archive-v1\\n" + prev_hash + "\\n" + blob_sha256 +
    "\\n" + canonical), recomputed here, where `canonical` covers the archive id, sequence
    number, folder, dates, Message-ID, From, To/Cc, Subject, size and attachment names;
 3. the listed chain runs without a gap from the first exported entry to the head, each link
    naming the previous entry's hash, each exported entry sitting in it at its sequence number
    with its recomputed hash, the last link being the head, and the day heads matching;
 4. with --head, the head equals the one you obtained independently (a day head the provider
    published or sent you earlier): that ties the export to a chain you did not receive in it.

A changed byte in a message, a changed header field, a removed, inserted or reordered entry
between the first exported message and the head all make it fail. The hashes of entries that
were not exported are taken as listed (their content is not in the export).
"""

import hashlib
import json
import sys
import zipfile

PREFIX = b"mailsuite-archive-v1\n"
FORMAT = "mailsuite-archive-export-v1"


class Broken(Exception):
    pass


def entry_hash(prev_hash, blob_sha256, canonical):
    data = PREFIX + prev_hash.encode("ascii") + b"\n" + blob_sha256.encode("ascii") + b"\n"
    return hashlib.sha256(data + canonical.encode("utf-8")).hexdigest()


def verify(path, head=None):
    with zipfile.ZipFile(path) as zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise Broken("no manifest.json in the export") from None
        if manifest.get("format") != FORMAT:
            raise Broken("unknown manifest format %r" % manifest.get("format"))
        names = set(zf.namelist()) - {"manifest.json"}
        listed = {m["file"] for m in manifest["messages"]}
        if names - listed:
            raise Broken("files not in the manifest: %s" % ", ".join(sorted(names - listed)))
        recomputed = {}
        for m in manifest["messages"]:
            try:
                digest = hashlib.sha256()
                size = 0
                with zf.open(m["file"]) as f:
                    for block in iter(lambda: f.read(1 << 16), b""):
                        digest.update(block)
                        size += len(block)
            except KeyError:
                raise Broken("%s: missing from the export" % m["file"]) from None
            if digest.hexdigest() != m["blob_sha256"]:
                raise Broken("%s: content does not match its hash (modified)" % m["file"])
            meta = json.loads(m["canonical"])
            if meta.get("seq") != m["seq"] or meta.get("size") != size:
                raise Broken("%s: metadata does not describe this message" % m["file"])
            computed = entry_hash(m["prev_hash"], m["blob_sha256"], m["canonical"])
            if computed != m["entry_hash"]:
                raise Broken("%s: entry hash does not match its metadata and content" % m["file"])
            recomputed[m["seq"]] = (m["file"], m["prev_hash"], computed)
    chain = manifest["chain"]
    if recomputed and not chain:
        raise Broken("the manifest lists no chain")
    previous = None
    for seq, prev_hash, hash_ in chain:
        if previous is not None:
            if seq != previous[0] + 1:
                raise Broken("chain: entry %d missing (next listed is %d)" % (previous[0] + 1, seq))
            if prev_hash != previous[1]:
                raise Broken("chain: entry %d does not link to entry %d" % (seq, previous[0]))
        if seq in recomputed:
            name, m_prev, m_hash = recomputed.pop(seq)
            if (m_prev, m_hash) != (prev_hash, hash_):
                raise Broken("%s: not the entry the chain holds at %d" % (name, seq))
        previous = (seq, hash_)
    if recomputed:
        raise Broken("entries outside the listed chain: %s" % sorted(recomputed))
    head_seq, head_hash = manifest["head"]["seq"], manifest["head"]["hash"]
    if previous is not None and previous != (head_seq, head_hash):
        raise Broken("chain ends at entry %d, not at the head %d" % (previous[0], head_seq))
    links = {seq: hash_ for seq, _prev, hash_ in chain}
    for day in manifest.get("day_heads", []):
        if links.get(day["seq"]) != day["hash"]:
            raise Broken("day head %s (entry %d) does not match the chain" % (day["day"], day["seq"]))
    if head is not None and head != head_hash:
        raise Broken("the head %s is not the one given (%s)" % (head_hash, head))
    return len(manifest["messages"]), head_seq, head_hash


def main(argv):
    args = list(argv[1:])
    head = None
    if "--head" in args:
        i = args.index("--head")
        head = args[i + 1] if i + 1 < len(args) else ""
        del args[i : i + 2]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        count, head_seq, head_hash = verify(args[0], head=head)
    except Broken as exc:
        print("BROKEN: %s" % exc)
        return 1
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        print("BROKEN: unreadable export (%s)" % exc)
        return 1
    print("OK: %d message(s) verified; chain head %d %s" % (count, head_seq, head_hash))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
