"""Search (MS-ASCMD 2.2.1.16) in two stores, and ResolveRecipients (2.2.1.15).

- Mailbox: an IMAP SEARCH (through mailstore) of the folder the query names (CollectionId), or
  of every folder the device knows, for the FreeText phones send (From, To, Subject or body;
  "from:" and "subject:" narrow it), between the GreaterThan / LessThan DateReceived days (IMAP
  searches by day). Results newest first, the requested Range of them rendered as Sync renders
  an Email, with the Total.
- GAL: the global address list, the active mailboxes of the user's own domain, then its
  aliases and distribution lists (never another domain's), by address, name or description.

ResolveRecipients resolves each To against the same list."""

from __future__ import annotations

import datetime as dt
import re
from xml.etree.ElementTree import Element

from activesync.commands import expect
from activesync.context import Context, element
from activesync.message import application_data, body_preference, within_page_bytes
from activesync.numbers import number
from devices.selectors import device_folder, device_folders
from domains.selectors import GalEntry, global_address_list
from mailstore.errors import NotFound
from mailstore.reader import Search, mail_session

S, A, G, R = "{Search}", "{AirSync}", "{GAL}", "{ResolveRecipients}"

STATUS_OK = 1
STATUS_INVALID_REQUEST = 2
STATUS_BAD_COLLECTION = 4  # Store status: the folder is unknown (FolderSync first)
STATUS_SERVER_ERROR = 3
DEFAULT_RANGE = (0, 99)
MAX_RANGE = 100  # results per answer, whatever the device asks

RESOLVED = 1
AMBIGUOUS = 2
UNRESOLVED = 4
TYPE_GAL = 1
DEFAULT_AMBIGUOUS = 19  # MS-ASCMD: MaxAmbiguousRecipients defaults to 19
MAX_RECIPIENTS = 100  # MS-ASCMD: a ResolveRecipients request has at most 100 To elements

_PREFIX = re.compile(r"^\s*(from|subject):\s*", re.IGNORECASE)


def _range(text: str | None) -> tuple[int, int]:
    first_text, _, last_text = (text or "").partition("-")
    first, last = number(first_text), number(last_text)
    if first is None or last is None or last < first:
        return DEFAULT_RANGE
    return first, min(last, first + MAX_RANGE - 1)


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _answer(status: int, *children: Element | None) -> Element:
    return element(
        f"{S}Search",
        None,
        element(f"{S}Status", STATUS_OK),
        element(f"{S}Response", None, element(f"{S}Store", None, element(f"{S}Status", status), *children)),
    )


def _paged(first: int, last: int, total: int, results: list[Element]) -> list[Element | None]:
    shown = f"{first}-{first + len(results) - 1}" if results else None
    return [*results, element(f"{S}Range", shown) if shown else None, element(f"{S}Total", total)]


def search(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{S}Search")
    store = request.find(f"{S}Store")
    if store is None:
        return element(f"{S}Search", None, element(f"{S}Status", STATUS_INVALID_REQUEST))
    name = (store.findtext(f"{S}Name") or "").strip().lower()
    query = store.find(f"{S}Query")
    options = store.find(f"{S}Options")
    first, last = _range(options.findtext(f"{S}Range") if options is not None else None)
    if name == "gal" and query is not None:
        return _gal(context, (query.text or "").strip(), first, last)
    if name == "mailbox" and query is not None:
        return _mailbox(context, query, options, first, last)
    return _answer(STATUS_INVALID_REQUEST)


# Mailbox ------------------------------------------------------------------------------------


def _mailbox(context: Context, query: Element, options: Element | None, first: int, last: int) -> Element:
    criteria = query.find(f"{S}And")
    if criteria is None:
        criteria = query
    wanted = Search()
    collection_ids = [c.text.strip() for c in criteria.iter(f"{A}CollectionId") if c.text and c.text.strip()]
    text = " ".join(t.text.strip() for t in criteria.iter(f"{S}FreeText") if t.text and t.text.strip())
    narrowed = _PREFIX.match(text)
    if narrowed:
        wanted.where, text = narrowed.group(1).lower(), text[narrowed.end() :]
    wanted.text = text
    for bound, tag in (("since", "GreaterThan"), ("before", "LessThan")):
        comparison = criteria.find(f"{S}{tag}")
        if comparison is not None:
            setattr(wanted, bound, _day(comparison.findtext(f"{S}Value")))
    if collection_ids:
        folders = [device_folder(device=context.device, server_id=cid) for cid in collection_ids]
        if any(f is None for f in folders):
            return _answer(STATUS_BAD_COLLECTION)
    else:
        folders = list(device_folders(device=context.device))
    preference = body_preference(options)
    with mail_session(context.source, owner=context.owner) as mail:
        found: list[tuple[object, int]] = []
        for folder in folders:
            try:
                found += [(folder, uid) for uid in mail.search_uids(folder.name, wanted)]
            except NotFound:
                continue  # removed since the last FolderSync: nothing to find there
        shown = found[first : last + 1]
        shown = shown[: len(within_page_bytes(mail, [(f.name, uid) for f, uid in shown]))]
        results = []
        for folder in dict.fromkeys(f for f, _ in shown):
            uids = [uid for f, uid in shown if f is folder]
            messages = {m.uid: m for m in mail.messages_raw(folder.name, uids)}
            for uid in uids:
                if uid in messages:
                    server_id = f"{folder.server_id}:{uid}"
                    data = application_data(messages[uid], server_id, preference)
                    data.tag = f"{S}Properties"
                    results.append(
                        element(
                            f"{S}Result",
                            None,
                            element(f"{A}Class", "Email"),
                            element(f"{S}LongId", server_id),
                            element(f"{A}CollectionId", folder.server_id),
                            data,
                        )
                    )
    return _answer(STATUS_OK, *_paged(first, last, len(found), results))


# GAL ----------------------------------------------------------------------------------------


def _gal_properties(entry: GalEntry) -> list[Element | None]:
    return [
        element(f"{G}DisplayName", entry.display_name),
        element(f"{G}FirstName", entry.first_name) if entry.first_name else None,
        element(f"{G}LastName", entry.last_name) if entry.last_name else None,
        element(f"{G}Company", entry.company) if entry.company else None,
        element(f"{G}Alias", entry.alias),
        element(f"{G}EmailAddress", entry.address),
    ]


def _gal(context: Context, query: str, first: int, last: int) -> Element:
    if not query:
        return _answer(STATUS_INVALID_REQUEST)  # no list of everyone for an empty query
    entries = global_address_list(mailbox=context.mailbox, query=query)
    total = len(entries)
    results = [
        element(f"{S}Result", None, element(f"{S}Properties", None, *_gal_properties(m)))
        for m in entries[first : last + 1]
    ]
    return _answer(STATUS_OK, *_paged(first, last, total, results))


# ResolveRecipients --------------------------------------------------------------------------


def resolve_recipients(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{R}ResolveRecipients")
    names = [(to.text or "").strip() for to in request.findall(f"{R}To")]
    if not names or not all(names) or len(names) > MAX_RECIPIENTS:
        return element(f"{R}ResolveRecipients", None, element(f"{R}Status", 5))  # protocol error
    limit = number(request.findtext(f"{R}Options/{R}MaxAmbiguousRecipients"))
    limit = DEFAULT_AMBIGUOUS if limit is None else limit
    responses = []
    for name in names:
        entries = global_address_list(mailbox=context.mailbox, query=name)
        total = len(entries)
        status = RESOLVED if total == 1 else AMBIGUOUS if total else UNRESOLVED
        shown = list(entries[: max(1, limit)]) if total else []
        responses.append(
            element(
                f"{R}Response",
                None,
                element(f"{R}To", name),
                element(f"{R}Status", status),
                element(f"{R}RecipientCount", len(shown)),
                *(
                    element(
                        f"{R}Recipient",
                        None,
                        element(f"{R}Type", TYPE_GAL),
                        element(f"{R}DisplayName", m.display_name),
                        element(f"{R}EmailAddress", m.address),
                    )
                    for m in shown
                ),
            )
        )
    return element(f"{R}ResolveRecipients", None, element(f"{R}Status", STATUS_OK), *responses)
