"""``mmmfed keys generate``: a standalone Ed25519 signing key in key files (:mod:`mmmfed.keyfile`).

Instance keys (rotate, revoke, list through the gateway's key service) are not here yet.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

keys_app = typer.Typer(help="Standalone Ed25519 signing keys (key files).", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", help="private key file to create, e.g. signer.pem", dir_okay=False)],
    key_id: Annotated[
        str | None,
        typer.Option("--id", help="verification method URL for the public key file (default: the did:key method)"),
    ] = None,
) -> None:
    """Make a new Ed25519 key: OUT (PKCS#8 PEM, mode 0600) and OUT.pub.json (public key, Multikey).

    Prints the key's did:key verification method: proofs naming it verify with no key file
    (the issue's "a file signed with a key from `mmmfed keys generate` verifies on its own").
    Never overwrites: exits 2 if either file exists.
    """
    import datetime

    from rich.markup import escape

    from mmmfed.cli import _fail, err_console
    from mmmfed.errors import MmmfedError
    from mmmfed.keyfile import write_key_files
    from mmmfed.proofs import SigningKey

    key = SigningKey.generate()
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        private_path, public_path = write_key_files(out, key, created=created, key_id=key_id)
    except MmmfedError as err:
        raise _fail(err) from err
    except OSError as err:
        err_console.print(f"[bold red]error[/] cannot write {escape(str(out))}: {err.strerror}", emoji=False)
        raise typer.Exit(code=2) from err
    sys.stdout.write(key.verification_method + "\n")
    err_console.print(
        f"wrote {private_path} (private, 0600) and {public_path} (public)", markup=False, highlight=False, emoji=False
    )
