"""Names of products and ports, and the column types a contract may declare."""

from __future__ import annotations

import pytest

from quanta.model.names import RESERVED_DOMAINS, PortAddress, ProductId, name_problem
from quanta.model.types import STORABLE, WIDENED, PhysicalType, parse_physical_type, storable_type

# ---------------------------------------------------------------------------------------------
# ProductId


@pytest.mark.parametrize("text", ["checkout.orders", "checkout/orders"])
def test_product_id_accepts_dotted_and_folder_forms(text: str) -> None:
    product = ProductId.parse(text)

    assert (product.domain, product.name) == ("checkout", "orders")
    assert str(product) == "checkout.orders"


def test_product_id_accepts_digits_and_underscores_after_the_first_letter() -> None:
    assert str(ProductId.parse("web2.daily_sessions_v2")) == "web2.daily_sessions_v2"


@pytest.mark.parametrize(
    "text",
    [
        "../evil",
        "checkout/../x",
        "checkout/..",
        "../checkout/orders",
        "checkout/orders/../../etc",
        "/checkout/orders",
        "checkout\\orders",
        "./checkout.orders",
    ],
)
def test_product_id_refuses_paths_that_leave_the_folder(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a product id|is not allowed"):
        ProductId.parse(text)


@pytest.mark.parametrize(
    ("text", "culprit"),
    [
        ("Checkout.orders", "domain 'Checkout'"),
        ("checkout.Orders", "product name 'Orders'"),
        ("checkout.ORDERS", "product name 'ORDERS'"),
        ("1checkout.orders", "domain '1checkout'"),
        ("_checkout.orders", "domain '_checkout'"),
        ("check-out.orders", "domain 'check-out'"),
        ("checkout.order s", "product name 'order s'"),
        ("checkout.", "product name ''"),
        ("checkout.orders\n", "product name 'orders\\\\n'"),
    ],
)
def test_product_id_names_the_part_that_is_not_an_identifier(text: str, culprit: str) -> None:
    with pytest.raises(ValueError, match=f"{culprit} is not allowed: use lowercase letters"):
        ProductId.parse(text)


@pytest.mark.parametrize("text", ["checkout", "a.b.c", "", "checkout..orders"])
def test_product_id_needs_exactly_two_parts(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a product id: write it as domain\.product"):
        ProductId.parse(text)


def test_product_id_parts_are_at_most_63_characters() -> None:
    longest = "a" * 63

    assert ProductId.parse(f"{longest}.orders").domain == longest
    with pytest.raises(ValueError, match="at most 63 characters"):
        ProductId.parse(f"{longest}b.orders")


@pytest.mark.parametrize("domain", sorted(RESERVED_DOMAINS))
def test_product_id_refuses_domains_the_engine_already_uses(domain: str) -> None:
    with pytest.raises(ValueError, match=f"domain '{domain}' is reserved: choose another"):
        ProductId.parse(f"{domain}.orders")


def test_a_catalog_word_is_fine_as_a_product_name_but_main_is_not() -> None:
    # Products are served as domain.main.product: a product or port named main would clash.
    assert ProductId.parse("checkout.memory").name == "memory"
    with pytest.raises(ValueError, match="product name 'main' is reserved"):
        ProductId.parse("checkout.main")
    assert name_problem("main", "port name") == "port name 'main' is reserved: choose another name"


def test_product_ids_sort_by_domain_then_name() -> None:
    ids = [ProductId.parse(t) for t in ["web.b", "checkout.z", "checkout.a"]]

    assert [str(i) for i in sorted(ids)] == ["checkout.a", "checkout.z", "web.b"]


def test_name_problem_is_none_for_a_good_name_and_names_what_was_checked() -> None:
    assert name_problem("orders") is None
    assert name_problem("Orders", "port name") == (
        "port name 'Orders' is not allowed: use lowercase letters, digits and underscores, "
        "starting with a letter (at most 63 characters)"
    )


# ---------------------------------------------------------------------------------------------
# PortAddress


def test_port_address_with_a_port() -> None:
    address = PortAddress.parse("checkout.orders.daily")

    assert address.product == ProductId("checkout", "orders")
    assert address.port == "daily"
    assert str(address) == "checkout.orders.daily"


def test_port_address_without_a_port_names_the_product() -> None:
    address = PortAddress.parse("checkout.orders")

    assert address.port is None
    assert str(address) == "checkout.orders"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checkout.orders.Daily", "port name 'Daily' is not allowed"),
        ("checkout.orders.", "port name '' is not allowed"),
        ("../evil", "is not allowed"),
        ("checkout/../x", "is not allowed"),
        ("checkout.orders.daily.extra", "is not a product id"),
        ("main.orders.daily", "domain 'main' is reserved"),
        ("Checkout.orders.daily", "domain 'Checkout' is not allowed"),
    ],
)
def test_port_address_refuses_bad_addresses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PortAddress.parse(text)


# ---------------------------------------------------------------------------------------------
# parse_physical_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("VARCHAR", "VARCHAR"),
        ("string", "VARCHAR"),
        ("text", "VARCHAR"),
        ("VARCHAR(255)", "VARCHAR"),
        ("char( 3 )", "VARCHAR"),
        ("INT", "INTEGER"),
        ("int4", "INTEGER"),
        ("int8", "BIGINT"),
        ("long", "BIGINT"),
        ("bool", "BOOLEAN"),
        ("REAL", "FLOAT"),
        ("float8", "DOUBLE"),
        ("DATETIME", "TIMESTAMP"),
        ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"),
        ("timestamp   with time\tzone", "TIMESTAMP WITH TIME ZONE"),
        ("  date  ", "DATE"),
        ("bytea", "BLOB"),
    ],
)
def test_aliases_map_to_their_storable_type(text: str, expected: str) -> None:
    parsed = parse_physical_type(text)

    assert parsed.name == expected
    assert str(parsed) == expected
    assert parsed.logical == STORABLE[expected]


@pytest.mark.parametrize(
    ("text", "precision", "scale"),
    [
        ("NUMERIC(10,2)", 10, 2),
        ("decimal( 10 , 2 )", 10, 2),
        ("DECIMAL(38,38)", 38, 38),
        ("DECIMAL(7)", 7, 0),
        ("NUMERIC", 18, 3),
        ("DECIMAL", 18, 3),
    ],
)
def test_decimals_keep_precision_and_scale(text: str, precision: int, scale: int) -> None:
    parsed = parse_physical_type(text)

    assert parsed == PhysicalType("DECIMAL", precision, scale)
    assert str(parsed) == f"DECIMAL({precision},{scale})"
    assert parsed.logical == "number"


@pytest.mark.parametrize("text", ["DECIMAL(0,0)", "DECIMAL(39,2)", "NUMERIC(5,6)"])
def test_impossible_decimals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a valid decimal: precision 1 to 38"):
        parse_physical_type(text)


def test_a_misspelt_type_is_refused_with_the_accepted_names() -> None:
    with pytest.raises(ValueError, match=r"^unknown type 'VARCHA': use one of ") as refused:
        parse_physical_type("VARCHA")

    message = str(refused.value)
    for accepted in STORABLE:
        assert accepted in message
    assert "DECIMAL(p,s)" in message


@pytest.mark.parametrize("text", ["INTEGER[]", "STRUCT(a INTEGER)", "MAP(VARCHAR, INTEGER)", ""])
def test_types_that_cannot_be_stored_are_unknown(text: str) -> None:
    with pytest.raises(ValueError, match="unknown type"):
        parse_physical_type(text)


@pytest.mark.parametrize(
    ("text", "declare"),
    [
        ("SMALLINT", "INTEGER"),
        ("tinyint", "INTEGER"),
        ("UINTEGER", "BIGINT"),
        ("UBIGINT", "DECIMAL(20,0)"),
        ("HUGEINT", "DECIMAL(38,0)"),
        ("UUID", "VARCHAR"),
        ("TIMESTAMP_NS", "TIMESTAMP"),
    ],
)
def test_widened_types_tell_which_type_to_declare(text: str, declare: str) -> None:
    with pytest.raises(ValueError, match="is not stored as such") as refused:
        parse_physical_type(text)

    assert str(refused.value) == f"type {text!r} is not stored as such: declare {declare} instead"


def test_every_suggested_declaration_is_itself_accepted() -> None:
    for suggestion in WIDENED.values():
        assert str(parse_physical_type(suggestion)) == suggestion


# ---------------------------------------------------------------------------------------------
# storable_type


@pytest.mark.parametrize(
    ("engine_type", "stored"),
    [
        ("INTEGER", "INTEGER"),
        ("SMALLINT", "INTEGER"),
        ("smallint", "INTEGER"),
        ("UTINYINT", "INTEGER"),
        ("UINTEGER", "BIGINT"),
        ("UBIGINT", "DECIMAL(20,0)"),
        ("HUGEINT", "DECIMAL(38,0)"),
        ("UUID", "VARCHAR"),
        ("TIMESTAMP_MS", "TIMESTAMP"),
        ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"),
        ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"),
        ("DECIMAL(12,2)", "DECIMAL(12,2)"),
        ("VARCHAR(20)", "VARCHAR"),
        ("BLOB", "BLOB"),
    ],
)
def test_storable_type_of_engine_types(engine_type: str, stored: str) -> None:
    assert storable_type(engine_type) == stored


@pytest.mark.parametrize(
    "engine_type",
    ["INTEGER[]", "STRUCT(a INTEGER, b VARCHAR)", "MAP(VARCHAR, INTEGER)", "INTERVAL", "BIT"],
)
def test_storable_type_is_none_for_what_cannot_be_stored(engine_type: str) -> None:
    assert storable_type(engine_type) is None


def test_storable_types_parse_back_to_themselves() -> None:
    engine_types = [*STORABLE, *WIDENED, "DECIMAL(20,4)", "TIMESTAMPTZ"]
    for engine_type in engine_types:
        stored = storable_type(engine_type)
        assert stored is not None, engine_type
        assert str(parse_physical_type(stored)) == stored
