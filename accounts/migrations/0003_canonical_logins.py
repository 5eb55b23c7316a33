# Logins in their canonical form (accounts.logins, issue 9 item 7): the form every login is now
# looked up by. A legacy login whose canonical form belongs to another account keeps its
# spelling (and is printed): it cannot be reached by login until staff rename one of the two.

import accounts.models
from django.db import migrations


def canonicalise(apps, schema_editor):
    from accounts.logins import canonical_login

    User = apps.get_model("accounts", "User")
    for user in User.objects.only("pk", "username").iterator():
        canonical = canonical_login(user.username)
        if canonical == user.username:
            continue
        if User.objects.filter(username__iexact=canonical).exclude(pk=user.pk).exists():
            print(f"\n  login {user.username!r} not renamed: {canonical!r} is another account's")
            continue
        User.objects.filter(pk=user.pk).update(username=canonical)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_accesslogentry_apppassword'),
    ]

    operations = [
        migrations.AlterModelManagers(
            name='user',
            managers=[
                ('objects', accounts.models.LoginManager()),
            ],
        ),
        migrations.RunPython(canonicalise, migrations.RunPython.noop),
    ]
