"""The diff's telephone comparison (remembered keys, plainly equal numbers not parsed) agrees
with ``values.normalize.same_phone``, the full parse of both numbers, on every pair."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from communal_sync.planning import diff
from communal_sync.values import normalize

REGIONS = st.sampled_from([None, "CA", "US", "GB", "FR", "DE", "IN", "BR", "JP", "AU", "IT"])
SEPARATORS = st.text(alphabet=" ().-", max_size=2)


@st.composite
def written(draw: st.DrawFn, digits: str) -> str:
    """``digits`` as a person might write them: separators between, a + or 00 in front."""
    parts = [draw(SEPARATORS) + digit for digit in digits]
    start = draw(st.sampled_from(["", "", "+", "00", "(", " ", "+ "]))
    end = draw(st.sampled_from(["", "", " ", ")", " x12", " ext. 7", "#3", "/2"]))
    return start + "".join(parts) + end


@st.composite
def same_digits(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(st.text(alphabet="0123456789", min_size=0, max_size=16))
    return draw(written(digits)), draw(written(digits))


@st.composite
def near_digits(draw: st.DrawFn) -> tuple[str, str]:
    """Two numbers that differ a little: a digit changed, added or dropped, a country code."""
    digits = draw(st.text(alphabet="0123456789", min_size=1, max_size=14))
    other = draw(
        st.sampled_from([digits[:-1], digits + "1", "1" + digits, "44" + digits, digits[:-1] + "9"])
    )
    return draw(written(digits)), draw(written(other))


ANY_TEXT = st.text(alphabet="0123456789 ().-+x#/eт٣", max_size=18)


@given(pair=st.one_of(same_digits(), near_digits(), st.tuples(ANY_TEXT, ANY_TEXT)), region=REGIONS)
def test_the_fast_comparison_agrees_with_the_full_parse(
    pair: tuple[str, str], region: str | None
) -> None:
    a, b = pair
    expected = normalize.same_phone(a, b, region)
    assert diff.same_phone(a, b, region) == expected
    assert diff.same_phone(a, b, region) == expected  # remembered: the same answer again
    assert diff.same_phone(b, a, region) == normalize.same_phone(b, a, region)


def test_plainly_equal_numbers_are_not_parsed() -> None:
    diff._phone_key.cache_clear()
    assert diff.same_phone("(416) 555-0101", "416 555 0101", None)
    assert diff.same_phone("+1 416 555 0101", "+1-416-555-0101", "FR")
    assert diff._phone_key.cache_info().currsize == 0


def test_a_plus_or_an_extension_is_never_plainly_equal() -> None:
    assert not diff._plainly_same_phone("+44 20 7946 0958", "44 20 7946 0958")
    assert not diff._plainly_same_phone("416 555 0101 x12", "416 555 010112")
    assert diff.same_phone("+1 416 555 0101", "(416) 555-0101", None)
    assert not diff.same_phone("416 555 0101 x12", "416 555 010112", "CA")


def test_two_digits_are_parsed() -> None:
    assert not diff._plainly_same_phone("01", "0.1")
    assert diff.same_phone("01", "0.1", "DE") == normalize.same_phone("01", "0.1", "DE")
