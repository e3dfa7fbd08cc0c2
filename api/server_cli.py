"""`caseline serve`, `caseline users add` and `caseline api-keys create|revoke`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.accounts import CredentialStore
from api.settings import Settings
from api.storage import build_workflow
from domain.errors import CaselineError
from domain.rules import Actor, Role

users = typer.Typer(help="Accounts that sign in with a password.", no_args_is_help=True)
api_keys = typer.Typer(help="API keys for machines and Open311 clients.", no_args_is_help=True)
CLI_ADMIN = Actor("cli-admin", role=Role.ADMIN)


def register(app: typer.Typer) -> None:
    """Add the server and account commands to the `caseline` command line."""
    app.add_typer(users, name="users")
    app.add_typer(api_keys, name="api-keys")

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        workers: Annotated[
            int, typer.Option(min=1, max=64, help="Worker processes (one per CPU makes use of them all).")
        ] = 1,
    ) -> None:
        """Serve the API and pages; runs the projector in a thread unless CASELINE_RUN_PROJECTOR=false.

        Several workers share one store: on SQLite their writers queue on a lock file beside the
        event log (`api.sqlite_store`), and one projector thread among them holds the lease."""
        import uvicorn

        url = f"http://{host}:{port}"
        typer.echo(f"Caseline on {url}/  (sign in: {url}/sign-in; public register: {url}/register)")
        typer.echo(f"API docs: {url}/docs")
        uvicorn.run(
            "api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
        )


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@users.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[Role, typer.Option(help="public, recorder, officer, supervisor or admin.")],
    department: Annotated[str | None, typer.Option(help="The officer's department.")] = None,
) -> None:
    """Open an account (or change its role); the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        _fail("the password (read from standard input) must be at least 12 characters")
    settings = Settings()
    workflow = build_workflow(settings)
    credentials = CredentialStore(settings)
    try:
        workflow.open_account(CLI_ADMIN, name=name, role=role.value, department=department)
        credentials.set_password(name, password)
    except CaselineError as error:
        _fail(error.message)
    finally:
        workflow.close()
        credentials.close()
    typer.echo(f"account {name} ({role.value}) ready")


@api_keys.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="The machine's account name.")],
    role: Annotated[Role, typer.Option(help="Role the key acts in.")],
    department: Annotated[str | None, typer.Option(help="Department, for officer keys.")] = None,
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    settings = Settings()
    workflow = build_workflow(settings)
    credentials = CredentialStore(settings)
    try:
        workflow.open_account(CLI_ADMIN, name=name, role=role.value, department=department)
        key_id, key = credentials.create_api_key(name)
        workflow.record_api_key(CLI_ADMIN, name, key_id=key_id)
    except CaselineError as error:
        _fail(error.message)
    finally:
        workflow.close()
        credentials.close()
    typer.echo(f"key {key_id} for {name} ({role.value}); store it now, it is not shown again:")
    typer.echo(key)


@api_keys.command("revoke")
def revoke_key(
    name: Annotated[str, typer.Argument(help="The account the key belongs to.")],
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after cl_).")],
) -> None:
    """Revoke an API key; it stops working at once."""
    settings = Settings()
    workflow = build_workflow(settings)
    credentials = CredentialStore(settings)
    try:
        workflow.record_api_key(CLI_ADMIN, name, key_id=key_id, revoke=True)
        credentials.revoke_api_key(key_id)
    except CaselineError as error:
        _fail(error.message)
    finally:
        workflow.close()
        credentials.close()
    typer.echo(f"key {key_id} revoked")
