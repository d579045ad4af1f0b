"""The SSRF guard: webhook URLs that reach this host or its networks are refused (pure logic;
names are resolved through `ssrf.resolve`, replaced here, never the network)."""

from __future__ import annotations

import ipaddress

import pytest

from crowdpost.webhooks import ssrf


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00:ec2::254]/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0177.0.0.1/",  # octal 127.0.0.1
        "http://0x7f.1/",  # hex 127.0.0.1
        "http://012.0.0.1/",  # octal 10.0.0.1
    ],
)
def test_private_and_reserved_addresses_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(host: str, port: int) -> list[ssrf.IPAddress]:
        raise AssertionError(f"an IP literal must not be looked up: {host}")

    monkeypatch.setattr(ssrf, "resolve", no_dns)

    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check_url(url, allow_private=False)


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake_resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        seen.append(host)
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]

    monkeypatch.setattr(ssrf, "resolve", fake_resolve)

    with pytest.raises(ssrf.UnsafeUrl, match="private"):
        ssrf.check_url("https://hooks.example.com/x", allow_private=False)
    assert seen == ["hooks.example.com"]


def test_a_public_name_gives_the_checked_address_to_connect_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: [ipaddress.ip_address("93.184.216.34")])

    target = ssrf.check_url("https://hooks.example.com/x?y=1", allow_private=False)

    assert target == ssrf.Target("https", "hooks.example.com", 443, ipaddress.ip_address("93.184.216.34"))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http:///nohost",
        "http://user:pw@example.com/",
        "http://example.com:99999/",
        "http://" + "a" * 3000 + ".com/",
    ],
)
def test_other_schemes_and_malformed_urls_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: [ipaddress.ip_address("93.184.216.34")])

    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check_url(url, allow_private=False)


def test_the_setting_allows_loopback_for_local_receivers() -> None:
    target = ssrf.check_url("http://127.0.0.1:9000/hook", allow_private=True)

    assert target.address == ipaddress.ip_address("127.0.0.1")
    assert target.port == 9000
