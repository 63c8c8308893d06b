"""Standard Webhooks signing: the spec's published example, tolerance window, rotation."""

from __future__ import annotations

import pytest

from sync_engine.signing import SignatureError, new_secret, sign, verify

# The example from the Standard Webhooks specification (and its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_reproduces_the_specifications_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_verify_accepts_the_example_within_the_window() -> None:
    verify(SPEC_SECRET, SPEC_ID, str(SPEC_TS), SPEC_SIGNATURE, SPEC_BODY, now=SPEC_TS + 299)


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_verify_refuses_a_timestamp_outside_five_minutes(offset: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SPEC_SECRET, SPEC_ID, str(SPEC_TS), SPEC_SIGNATURE, SPEC_BODY, now=SPEC_TS + offset)


@pytest.mark.parametrize(
    ("msg_id", "ts", "signature", "body"),
    [
        ("msg_other", str(SPEC_TS), SPEC_SIGNATURE, SPEC_BODY),
        (SPEC_ID, str(SPEC_TS + 1), SPEC_SIGNATURE, SPEC_BODY),
        (SPEC_ID, str(SPEC_TS), SPEC_SIGNATURE, SPEC_BODY + b" "),
        (SPEC_ID, str(SPEC_TS), "v2," + SPEC_SIGNATURE[3:], SPEC_BODY),
        (SPEC_ID, str(SPEC_TS), "v1,bm90IGl0", SPEC_BODY),
        (SPEC_ID, str(SPEC_TS), "v1,é", SPEC_BODY),
        (SPEC_ID, "not-a-number", SPEC_SIGNATURE, SPEC_BODY),
        (None, str(SPEC_TS), SPEC_SIGNATURE, SPEC_BODY),
        (SPEC_ID, None, SPEC_SIGNATURE, SPEC_BODY),
        (SPEC_ID, str(SPEC_TS), "", SPEC_BODY),
    ],
)
def test_verify_refuses_anything_altered_or_missing(
    msg_id: str | None, ts: str | None, signature: str, body: bytes
) -> None:
    with pytest.raises(SignatureError):
        verify(SPEC_SECRET, msg_id, ts, signature, body, now=SPEC_TS)


def test_verify_accepts_any_one_of_several_signatures_during_a_rotation() -> None:
    old = new_secret()
    header = f"{sign(old, SPEC_ID, SPEC_TS, SPEC_BODY)} {SPEC_SIGNATURE}"
    verify(SPEC_SECRET, SPEC_ID, str(SPEC_TS), header, SPEC_BODY, now=SPEC_TS)


def test_new_secrets_are_distinct_whsec_keys_that_sign() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_")
    signature = sign(first, "m", 1, b"x")
    verify(first, "m", "1", signature, b"x", now=1)
    with pytest.raises(SignatureError):
        verify(second, "m", "1", signature, b"x", now=1)


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(SignatureError, match="base64"):
        sign("whsec_***not base64***", "m", 1, b"x")
