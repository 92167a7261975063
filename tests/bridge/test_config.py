"""athletes.toml: the documented example parses; mistakes name their line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from calfload.bridge.config import ConfigError, key_lines, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "athletes.example.toml"

GOOD = """\
[broker]
url = "mqtt://127.0.0.1:1883"

[[athletes]]
id = "a1"
body_mass_kg = 70

[[athletes.sensors]]
family = "open-insole"
name = "CALF-INSOLE-A1-L"
side = "left"
placement = "insole"

[[athletes.sensors]]
family = "open-insole"
address = "c0:ca:1f:00:00:02"
side = "right"
placement = "insole"

[[athletes]]
id = "b2"
name = "Bo"
body_mass_kg = 81.5

[[athletes.sensors]]
family = "open-insole"
name = "CALF-INSOLE-B2-R"
side = "right"
placement = "insole"
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_documented_example_parses(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    (tmp_path / "athletes.toml").write_text(text)
    (tmp_path / "broker-password").write_text("s3cret\n")
    config = load_config(tmp_path / "athletes.toml")
    assert config.broker.url.tls and config.broker.url.password == "s3cret"
    assert [s.sensor_id for _, s in config.sensors] == ["a1-left-insole", "a1-right-insole"]
    assert config.athletes[0].settings == {"foot_length_m": 0.255, "height_m": 1.66}


def test_good_config_gives_ids_rates_and_athletes() -> None:
    config = parse_config(GOOD)
    assert [a.athlete for a in config.athletes] == ["a1", "b2"]
    assert config.athletes[0].name == "a1"  # defaults to the id
    ids = [s.sensor_id for _, s in config.sensors]
    assert ids == ["a1-left-insole", "a1-right-insole", "b2-right-insole"]
    assert all(s.rate_hz == 100 for _, s in config.sensors)
    assert config.broker.base_topic == "calfload"


@pytest.mark.parametrize(
    ("old", "new", "occurrence", "needle", "words"),
    [
        ('side = "right"', 'side = "up"', 2, 'side = "up"', "athletes[1].sensors[0].side"),
        ('placement = "insole"', 'placement = "shank"', 1, "shank", "worn as: insole"),
        ('family = "open-insole"', 'family = "nope"', 2, "nope", "unknown sensor family"),
        ("body_mass_kg = 81.5", "body_mass_kg = 8150", 1, "8150", "between 20 and 250 kg"),
        ("body_mass_kg = 70", 'body_mass_kg = "70"', 1, '"70"', "must be a number"),
        ('id = "b2"', 'id = "a1"', 1, 'name = "Bo"', "used twice"),
        ('id = "b2"', 'id = "b 2"', 1, "b 2", "athlete id"),
        ('name = "Bo"', 'nmae = "Bo"', 1, "nmae", "unknown field"),
        ('url = "mqtt://127.0.0.1:1883"', 'url = "http://x"', 1, "http://x", "scheme"),
    ],
)
def test_mistakes_name_the_line_and_field(
    old: str, new: str, occurrence: int, needle: str, words: str
) -> None:
    parts = GOOD.split(old)
    assert len(parts) > occurrence
    text = old.join(parts[:occurrence]) + new + old.join(parts[occurrence:])
    with pytest.raises(ConfigError) as info:
        parse_config(text, "athletes.toml")
    message = str(info.value)
    expected = line_of(text, needle) - (1 if "twice" in words else 0)  # the line above "Bo"
    assert message.startswith(f"athletes.toml:{expected}:"), message
    assert words in message


def test_a_sensor_without_address_or_name_points_at_its_table() -> None:
    text = GOOD.replace('name = "CALF-INSOLE-B2-R"\n', "")
    with pytest.raises(ConfigError, match="address or its advertised name") as info:
        parse_config(text, "athletes.toml")
    assert str(info.value).startswith(f"athletes.toml:{line_of(text, '[[athletes.sensors]]', 3)}:")


def test_syntax_errors_keep_tomllibs_line() -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        parse_config('[broker]\nurl = "mqtt://x\n')


def test_missing_password_file_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "athletes.toml"
    cfg.write_text(
        GOOD.replace("[[athletes]]", 'username = "u"\npassword_file = "pw"\n\n[[athletes]]', 1)
    )
    with pytest.raises(ConfigError, match="password_file: cannot read"):
        load_config(cfg)


def test_key_lines_follows_arrays_of_tables() -> None:
    lines = key_lines(GOOD)
    assert lines[("athletes", 1, "sensors", 0, "name")] == line_of(GOOD, "CALF-INSOLE-B2-R")
    assert lines[("athletes", 0, "sensors", 1)] == line_of(GOOD, "[[athletes.sensors]]", 2)
    assert lines[("broker", "url")] == 2


def test_athlete_settings_are_range_checked_like_the_load_estimates() -> None:
    text = GOOD.replace("body_mass_kg = 70", "body_mass_kg = 70\nachilles_moment_arm_m = 0.5")
    with pytest.raises(ConfigError, match=r"achilles_moment_arm_m: must be between 0\.02 and 0"):
        parse_config(text, "athletes.toml")
