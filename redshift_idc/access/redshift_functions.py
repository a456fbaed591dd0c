"""The SQL functions Redshift documents, each with its page, and whether the access preview can evaluate it.

A policy expression may call these, and the functions the model's scripts create (`functions.py`); any other
name is a typo or another database's function, and is refused at validation with the nearest valid name
instead of failing the deploy. Each entry names its page, docs.aws.amazon.com/redshift/latest/dg/<page>.html
(all documented; the lists are the Database Developer Guide's "SQL functions reference" sections, as the
awsdocs/amazon-redshift-developer-guide repository published them, plus CURRENT_SETTING and USER_IS_MEMBER_OF /
ROLE_IS_MEMBER_OF, which policies use). Generous on purpose: a function Redshift has that a policy should
rarely call (RANDOM, VERSION) is still accepted, since Redshift decides what it accepts in a policy.

`preview`: the preview (sqlglot's translation to DuckDB, `preview/translate.py`) evaluates the function as
Redshift does; tests/test_redshift_functions.py runs an example of each on DuckDB. A known function the
preview cannot evaluate is not an error: the preview says it cannot evaluate it.

Functions that cannot work in a policy are refused with the reason: aggregate and window functions (a policy
is a per-row filter, "a filter that can be part of a WHERE clause" (r_CREATE_RLS_POLICY), and WHERE cannot hold
aggregates (r_WHERE_clause)), and leader node-only functions, which return an error on a query that reads a
user table (c_SQL_functions_leader_node_only), as every policy does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedshiftFunction:
    name: str  # upper case, as the reference writes it
    page: str  # docs.aws.amazon.com/redshift/latest/dg/<page>.html
    category: str
    preview: bool  # the access preview evaluates it as Redshift does


# The preview can evaluate the names marked with a trailing '*'.
_CATEGORIES: dict[str, str] = {
    "string (String_functions_header)": """
        ASCII:r_ASCII* BPCHARCMP:r_BPCHARCMP BTRIM:r_BTRIM* BTTEXT_PATTERN_CMP:r_BTTEXT_PATTERN_CMP
        CHAR_LENGTH:r_CHAR_LENGTH* CHARACTER_LENGTH:r_CHARACTER_LENGTH* CHARINDEX:r_CHARINDEX* CHR:r_CHR*
        COLLATE:r_COLLATE CONCAT:r_CONCAT* CRC32:crc32-function DIFFERENCE:DIFFERENCE INITCAP:r_INITCAP*
        LEFT:r_LEFT* RIGHT:r_LEFT* LEN:r_LEN* LENGTH:r_LENGTH* LOWER:r_LOWER* LPAD:r_LPAD* RPAD:r_LPAD*
        LTRIM:r_LTRIM* OCTETINDEX:OCTETINDEX OCTET_LENGTH:r_OCTET_LENGTH POSITION:r_POSITION*
        QUOTE_IDENT:r_QUOTE_IDENT QUOTE_LITERAL:r_QUOTE_LITERAL REGEXP_COUNT:REGEXP_COUNT REGEXP_INSTR:REGEXP_INSTR
        REGEXP_REPLACE:REGEXP_REPLACE REGEXP_SUBSTR:REGEXP_SUBSTR REPEAT:r_REPEAT* REPLACE:r_REPLACE*
        REPLICATE:r_REPLICATE REVERSE:r_REVERSE* RTRIM:r_RTRIM* SOUNDEX:SOUNDEX SPLIT_PART:SPLIT_PART*
        STRPOS:r_STRPOS* STRTOL:r_STRTOL SUBSTR:r_SUBSTR* SUBSTRING:r_SUBSTRING* TEXTLEN:r_TEXTLEN
        TRANSLATE:r_TRANSLATE TRIM:r_TRIM* UPPER:r_UPPER*""",
    "math (Math_functions)": """
        ABS:r_ABS* ACOS:r_ACOS ASIN:r_ASIN ATAN:r_ATAN ATAN2:r_ATAN2 CBRT:r_CBRT CEILING:r_CEILING_FLOOR*
        CEIL:r_CEILING_FLOOR* COS:r_COS COT:r_COT DEGREES:r_DEGREES DEXP:r_DEXP DLOG1:r_DLOG1 DLOG10:r_DLOG10
        EXP:r_EXP* FLOOR:r_FLOOR* LN:r_LN* LOG:r_LOG MOD:r_MOD* PI:r_PI POWER:r_POWER* POW:r_POWER* RADIANS:r_RADIANS
        RANDOM:r_RANDOM ROUND:r_ROUND* SIN:r_SIN SIGN:r_SIGN* SQRT:r_SQRT* TAN:r_TAN TRUNC:r_TRUNC""",
    "date and time (Date_functions_header)": """
        ADD_MONTHS:r_ADD_MONTHS* CONVERT_TIMEZONE:CONVERT_TIMEZONE CURRENT_DATE:r_CURRENT_DATE_function
        DATE_CMP:r_DATE_CMP DATE_CMP_TIMESTAMP:r_DATE_CMP_TIMESTAMP DATE_CMP_TIMESTAMPTZ:r_DATE_CMP_TIMESTAMPTZ
        DATEADD:r_DATEADD_function* DATEDIFF:r_DATEDIFF_function* DATE_PART:r_DATE_PART_function*
        DATE_PART_YEAR:r_DATE_PART_YEAR DATE_TRUNC:r_DATE_TRUNC* EXTRACT:r_EXTRACT_function* GETDATE:r_GETDATE
        INTERVAL_CMP:r_INTERVAL_CMP LAST_DAY:r_LAST_DAY* MONTHS_BETWEEN:r_MONTHS_BETWEEN_function
        NEXT_DAY:r_NEXT_DAY SYSDATE:r_SYSDATE TIMEOFDAY:r_TIMEOFDAY_function TIMESTAMP_CMP:r_TIMESTAMP_CMP
        TIMESTAMP_CMP_DATE:r_TIMESTAMP_CMP_DATE TIMESTAMP_CMP_TIMESTAMPTZ:r_TIMESTAMP_CMP_TIMESTAMPTZ
        TIMESTAMPTZ_CMP:r_TIMESTAMPTZ_CMP TIMESTAMPTZ_CMP_DATE:r_TIMESTAMPTZ_CMP_DATE
        TIMESTAMPTZ_CMP_TIMESTAMP:r_TIMESTAMPTZ_CMP_TIMESTAMP TIMEZONE:r_TIMEZONE TO_TIMESTAMP:r_TO_TIMESTAMP""",
    "conditional (c_conditional_expressions)": """
        COALESCE:r_COALESCE* DECODE:r_DECODE_expression* GREATEST:r_GREATEST_LEAST* LEAST:r_GREATEST_LEAST*
        NVL:r_NVL_function* NVL2:r_NVL2* NULLIF:r_NULLIF_function*""",
    "type conversion (r_Data_type_formatting)": """
        CAST:r_CAST_function* CONVERT:r_CONVERT_function* TO_CHAR:r_TO_CHAR TO_DATE:r_TO_DATE_function
        TO_NUMBER:r_TO_NUMBER TEXT_TO_INT_ALT:r_TEXT_TO_INT_ALT TEXT_TO_NUMERIC_ALT:r_TEXT_TO_NUMERIC_ALT""",
    "hash (hash-functions)": """
        CHECKSUM:r_CHECKSUM FARMFINGERPRINT64:r_FARMFINGERPRINT64 FUNC_SHA1:FUNC_SHA1 FNV_HASH:r_FNV_HASH
        MD5:r_MD5* SHA:SHA SHA1:SHA1 SHA2:SHA2 MURMUR3_32_HASH:MURMUR3_32_HASH""",
    "JSON (json-functions)": """
        IS_VALID_JSON:IS_VALID_JSON IS_VALID_JSON_ARRAY:IS_VALID_JSON_ARRAY JSON_ARRAY_LENGTH:JSON_ARRAY_LENGTH
        JSON_EXTRACT_ARRAY_ELEMENT_TEXT:JSON_EXTRACT_ARRAY_ELEMENT_TEXT JSON_EXTRACT_PATH_TEXT:JSON_EXTRACT_PATH_TEXT
        JSON_PARSE:JSON_PARSE CAN_JSON_PARSE:CAN_JSON_PARSE JSON_SERIALIZE:JSON_SERIALIZE
        JSON_SERIALIZE_TO_VARBYTE:JSON_SERIALIZE_TO_VARBYTE""",
    "SUPER (Object_Functions, c_Array_Functions, c_Type_Info_Functions)": """
        OBJECT:r_object_function ARRAY:r_array ARRAY_CONCAT:r_array_concat ARRAY_FLATTEN:array_flatten
        GET_ARRAY_LENGTH:get_array_length SPLIT_TO_ARRAY:split_to_array SUBARRAY:r_subarray
        DECIMAL_PRECISION:r_decimal_precision DECIMAL_SCALE:r_decimal_scale IS_ARRAY:r_is_array
        IS_BIGINT:r_is_bigint IS_BOOLEAN:r_is_boolean IS_CHAR:r_is_char IS_DECIMAL:r_is_decimal
        IS_FLOAT:r_is_float IS_INTEGER:r_is_integer IS_OBJECT:r_is_object IS_SCALAR:r_is_scalar
        IS_SMALLINT:r_is_smallint IS_VARCHAR:r_is_varchar JSON_SIZE:r_json_size JSON_TYPEOF:r_json_typeof
        SIZE:r_SIZE""",
    "VARBYTE (varbyte-functions)": """
        FROM_HEX:r_FROM_HEX FROM_VARBYTE:r_FROM_VARBYTE GETBIT:r_GETBIT TO_HEX:r_TO_HEX TO_VARBYTE:r_TO_VARBYTE""",
    "HyperLogLog (hyperloglog-functions)": """
        HLL_CARDINALITY:r_HLL_CARDINALITY HLL_COMBINE_SKETCHES:r_HLL_COMBINE_SKETCHES""",
    "spatial (geospatial-functions)": """
        ADDBBOX:AddBBox-function DROPBBOX:DropBBox-function GEOMETRYTYPE:GeometryType-function
        SUPPORTSBBOX:SupportsBBox-function ST_ADDPOINT ST_ANGLE ST_AREA ST_ASBINARY ST_ASEWKB ST_ASEWKT
        ST_ASGEOJSON ST_ASHEXEWKB ST_ASHEXWKB ST_ASTEXT ST_AZIMUTH ST_BOUNDARY ST_BUFFER ST_CENTROID ST_COLLECT
        ST_CONTAINS ST_CONTAINSPROPERLY ST_CONVEXHULL ST_COVEREDBY ST_COVERS ST_CROSSES ST_DIMENSION ST_DISJOINT
        ST_DISTANCE ST_DISTANCESPHERE ST_DWITHIN ST_ENDPOINT ST_ENVELOPE ST_EQUALS ST_EXTERIORRING ST_FORCE2D
        ST_FORCE3D ST_FORCE3DM ST_FORCE3DZ ST_FORCE4D ST_GEOHASH ST_GEOGFROMTEXT ST_GEOGFROMWKB ST_GEOMETRYN
        ST_GEOMETRYTYPE ST_GEOMFROMEWKB ST_GEOMFROMEWKT ST_GEOMFROMGEOJSON ST_GEOMFROMGEOHASH ST_GEOMFROMTEXT
        ST_GEOMFROMWKB ST_INTERIORRINGN ST_INTERSECTS ST_INTERSECTION ST_ISPOLYGONCCW ST_ISPOLYGONCW ST_ISCLOSED
        ST_ISCOLLECTION ST_ISEMPTY ST_ISRING ST_ISSIMPLE ST_ISVALID ST_LENGTH ST_LENGTHSPHERE ST_LENGTH2D
        ST_LINEFROMMULTIPOINT ST_LINEINTERPOLATEPOINT ST_M ST_MAKEENVELOPE ST_MAKELINE ST_MAKEPOINT
        ST_MAKEPOLYGON ST_MEMSIZE ST_MMAX ST_MMIN ST_MULTI ST_NDIMS ST_NPOINTS ST_NRINGS ST_NUMGEOMETRIES
        ST_NUMINTERIORRINGS ST_NUMPOINTS ST_PERIMETER ST_PERIMETER2D ST_POINT ST_POINTN ST_POINTS ST_POLYGON
        ST_REMOVEPOINT ST_REVERSE ST_SETPOINT ST_SETSRID ST_SIMPLIFY ST_SRID ST_STARTPOINT ST_TOUCHES
        ST_TRANSFORM ST_UNION ST_WITHIN ST_X ST_XMAX ST_XMIN ST_Y ST_YMAX ST_YMIN ST_Z ST_ZMAX ST_ZMIN""",
    "context and system information (r_System_information_functions)": """
        CURRENT_AWS_ACCOUNT:r_CURRENT_AWS_ACCOUNT CURRENT_DATABASE:r_CURRENT_DATABASE
        CURRENT_NAMESPACE:r_CURRENT_NAMESPACE CURRENT_USER:r_CURRENT_USER* CURRENT_USER_ID:r_CURRENT_USER_ID
        USER:r_USER* ROLE_IS_MEMBER_OF:r_ROLE_IS_MEMBER_OF USER_IS_MEMBER_OF:r_USER_IS_MEMBER_OF*
        DEFAULT_IAM_ROLE:r_DEFAULT_IAM_ROLE HAS_ASSUMEROLE_PRIVILEGE:r_HAS_ASSUMEROLE_PRIVILEGE
        PG_BACKEND_PID:PG_BACKEND_PID SLICE_NUM:r_SLICE_NUM VERSION:r_VERSION
        CURRENT_SETTING:r_CURRENT_SETTING""",
}


def _entries() -> dict[str, RedshiftFunction]:
    table: dict[str, RedshiftFunction] = {}
    for category, text in _CATEGORIES.items():
        for word in text.split():
            preview = word.endswith("*")
            name, _, page = word.rstrip("*").partition(":")
            if not page:  # the spatial pages are named <Name>-function, in the reference's mixed case
                page = f"{name}-function"
            table.setdefault(name, RedshiftFunction(name, page, category.split(" (")[0], preview))
    return table


FUNCTIONS: dict[str, RedshiftFunction] = _entries()

# Documented functions a policy cannot use, and why (see the module docstring).
AGGREGATE_PAGES = "c_Aggregate_Functions, c_Window_functions, c_bitwise_aggregate_functions, hyperloglog-functions"
AGGREGATES = frozenset((
    "ANY_VALUE", "APPROXIMATE", "AVG", "COUNT", "LISTAGG", "MAX", "MEDIAN", "MIN", "PERCENTILE_CONT",
    "PERCENTILE_DISC", "STDDEV", "STDDEV_SAMP", "STDDEV_POP", "SUM", "VARIANCE", "VAR_SAMP", "VAR_POP", "BIT_AND",
    "BIT_OR", "BOOL_AND", "BOOL_OR", "CUME_DIST", "DENSE_RANK", "FIRST_VALUE", "LAST_VALUE", "LAG", "LEAD",
    "NTH_VALUE", "RATIO_TO_REPORT", "NTILE", "PERCENT_RANK", "RANK", "ROW_NUMBER", "HLL", "HLL_CREATE_SKETCH",
    "HLL_COMBINE"))
# c_SQL_functions_leader_node_only, with the replacement Date_functions_header names where it names one.
LEADER_NODE_ONLY: dict[str, str] = {
    "CURRENT_SCHEMA": "", "CURRENT_SCHEMAS": "", "HAS_DATABASE_PRIVILEGE": "", "HAS_SCHEMA_PRIVILEGE": "",
    "HAS_TABLE_PRIVILEGE": "", "AGE": "DATEDIFF", "CURRENT_TIME": "GETDATE or SYSDATE",
    "CURRENT_TIMESTAMP": "GETDATE or SYSDATE", "LOCALTIME": "GETDATE or SYSDATE",
    "LOCALTIMESTAMP": "GETDATE or SYSDATE", "NOW": "GETDATE or SYSDATE", "ISFINITE": "", "GET_BYTE": "",
    "SET_BIT": "", "SET_BYTE": "", "TO_ASCII": "",
}


def refusal(name: str) -> str | None:
    """Why a documented function cannot be used in a policy, or None."""
    upper = name.upper()
    if upper in AGGREGATES:
        return (f"{upper} is an aggregate or window function, which computes over many rows; a policy expression "
                f"is evaluated on one row at a time (pages {AGGREGATE_PAGES})")
    if upper in LEADER_NODE_ONLY:
        instead = LEADER_NODE_ONLY[upper]
        return (f"{upper} runs on the leader node only and returns an error on a query that reads a table, as a "
                f"policy always does (page c_SQL_functions_leader_node_only)" + (f"; use {instead}" if instead else ""))
    return None
