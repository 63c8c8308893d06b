"""A client for the simulator's ``/_admin`` routes (firms, seeded people, faults, revoked keys,
drift): what the demo does to its Clockwork behind the sync's back. It works against the
embedded simulator and a separately started ``cwsync simulator`` alike."""

from __future__ import annotations

from typing import Any

import httpx

from clockwork_simulator import FaultConfig
from sync_engine.services.errors import ServiceError


class SimulatorAdminError(ServiceError):
    """The demo Clockwork refused an admin call or did not answer."""


class SimulatorAdmin:
    """A small client for the simulator's ``/_admin`` routes (not the Clockwork contract)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=f"{base_url.rstrip('/')}/_admin", timeout=timeout)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise SimulatorAdminError(f"the demo Clockwork did not answer ({exc})") from None
        if response.status_code >= 400:
            raise SimulatorAdminError(
                f"the demo Clockwork refused {method} {path}: {response.text[:200]}"
            )
        return response.json() if response.content else None

    def firms(self) -> list[str]:
        """Registered firm names."""
        return list(self._call("GET", "/firms")["firms"])

    def add_firm(self, name: str, *, api_key: str, api_secret: str, firm_service_key: str) -> None:
        """Register a firm (with the simulator's seeded projects)."""
        body = {
            "name": name,
            "api_key": api_key,
            "api_secret": api_secret,
            "firm_service_key": firm_service_key,
        }
        self._call("POST", "/firms", body)

    def ensure_user(self, firm: str, *, api_key: str, api_secret: str) -> None:
        """Give the firm this user's key pair unless it already has it."""
        users = self._call("GET", f"/firms/{firm}/state")["users"]
        if not any(user["apiKey"] == api_key for user in users):
            body = {"api_key": api_key, "api_secret": api_secret}
            self._call("POST", f"/firms/{firm}/users", body)

    def projects(self, firm: str) -> list[dict[str, Any]]:
        """The firm's projects as the API shows them."""
        return list(self._call("GET", f"/firms/{firm}/state")["projects"])

    def seed_person(self, firm: str, **person: Any) -> dict[str, Any]:
        """Create a person as a recruiter would have; returns its payload."""
        return dict(self._call("POST", f"/firms/{firm}/people", person)["person"])

    def reset(self) -> None:
        """Forget every firm and record."""
        self._call("POST", "/reset", {"keep_firms": False})

    def faults(self) -> FaultConfig:
        """The faults in force."""
        return FaultConfig.model_validate(self._call("GET", "/faults"))

    def set_faults(self, config: FaultConfig) -> None:
        """Inject ``config`` from now on."""
        self._call("PUT", "/faults", config.model_dump(mode="json"))

    def revoke_key(self, key: str) -> None:
        """Reject an API key or firm service key (401) from now on."""
        self._call("POST", "/keys/revoke", {"key": key})

    def restore_key(self, key: str) -> None:
        """Accept a revoked key again."""
        self._call("POST", "/keys/restore", {"key": key})

    def delete_person(self, firm: str, person_id: str) -> None:
        """Delete a person in Clockwork, with their candidacies and notes (drift)."""
        self._call("DELETE", f"/firms/{firm}/people/{person_id}")

    def merge_person(self, firm: str, person_id: str, *, into: str) -> dict[str, Any]:
        """Merge a person into another (drift); the old id then answers with the survivor."""
        return dict(self._call("POST", f"/firms/{firm}/people/{person_id}/merge", {"into": into}))

    def remove_candidacy(self, firm: str, project_id: str, person_id: str) -> None:
        """Take a person out of a project (drift)."""
        self._call("DELETE", f"/firms/{firm}/projects/{project_id}/candidacies/{person_id}")

    def delete_note(self, firm: str, note_id: str) -> None:
        """Delete one note (drift)."""
        self._call("DELETE", f"/firms/{firm}/notes/{note_id}")

    def state(self, firm: str) -> dict[str, Any]:
        """Everything the firm holds (people, candidacies, notes)."""
        return dict(self._call("GET", f"/firms/{firm}/state"))

    def api_keys(self, firm: str) -> list[str]:
        """The API keys of the firm's users, as the simulator holds them."""
        return [str(user["apiKey"]) for user in self.state(firm)["users"]]

    def revoked(self, firm: str) -> bool:
        """Whether any key of the firm is revoked."""
        state = self._call("GET", f"/firms/{firm}/state")
        return bool(state["firmServiceKeyRevoked"] or any(u["revoked"] for u in state["users"]))
