"""A model's SQL scripts cut into statements once, at synth, with sqlglot's Redshift lexer.

The Lambda then receives a list of statements and needs no splitter of its own. A lexer, not a scan for
`;`: a `;` inside a string, a quoted name, a comment (`--` or `/* ... */`) or a `$$ ... $$` body does not
end a statement. What the lexer cannot read (an unclosed quote, comment or body) is an error naming the
script and the line where it starts: a script that cannot be split safely is never sent in pieces.
"""

from __future__ import annotations

import hashlib

import sqlglot
from sqlglot import TokenType
from sqlglot.errors import TokenError

from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.reconcile_request import ScriptEntry


def _lexes(text: str) -> bool:
    try:
        sqlglot.tokenize(text, read="redshift")
    except TokenError:
        return False
    return True


def _unclosed_line(text: str) -> int:
    """The line where the construct the lexer could not close starts: every prefix of lines from there on
    fails to lex, and the prefix before it lexes."""
    lines = text.split("\n")
    for count in range(len(lines) - 1, -1, -1):
        if _lexes("\n".join(lines[:count])):
            return count + 1
    return 1


def split_statements(where: str, text: str) -> list[str]:
    """The script's statements, each as written from its first token to its last (comments before and
    after it left out, those inside kept), without its `;`; parts that hold only comments are left out.
    `where` names the script in errors (`sql/<file>`)."""
    try:
        tokens = sqlglot.tokenize(text, read="redshift")
    except TokenError:
        raise ConfigError(f"{where}: line {_unclosed_line(text)}: a quote, a /* comment or a $$ body that starts "
                          "on this line is not closed, so the script cannot be split into statements safely"
                          ) from None
    statements: list[str] = []
    first: int | None = None  # where the statement's first token starts
    last = 0  # where its last token ends
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if first is not None:
                statements.append(text[first:last + 1])
            first = None
            continue
        if first is None:
            first = token.start
        last = token.end
    if first is not None:
        statements.append(text[first:last + 1])
    return statements

def script_entry(name: str, text: str, where: str | None = None) -> ScriptEntry:
    """A script as the model document holds it: its text, checksum (of the text: what the ledger records)
    and statements."""
    return {"Name": name, "Sql": text, "Checksum": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "Statements": split_statements(where or f"sql/{name}", text)}
