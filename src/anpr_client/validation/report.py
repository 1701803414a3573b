"""Batch reports: a JSON file for programs and a self-contained HTML page for people.

The JSON report is exactly::

    {"records": N,
     "summary": {"CODE": count, ...},
     "findings": [{"row": n, "field": "...", "code": "...", "severity": "E|W",
                   "message": "..."}, ...]}

``row`` is the 1-based data row of the input (the header is not a row), ``field`` the column
(empty for a row that cannot be read), ``code`` the ANPR error code the defect is predicted to
produce (``XSD``: the gateway refuses the whole request; ``INPUT``: unreadable row), the
summary counts findings by code. Findings are spooled to a temporary file while the batch
runs and copied into place at the end, so memory stays flat for any number of findings; the
files appear only when the run completes.

The HTML page (no external resources; every value escaped) shows the summary by check (code,
severity, count and the meaning of that check), then the findings with filters by code,
severity and free text. Past ``html_limit`` findings the page lists the first ones and says
how many the JSON report holds.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Final

from ..errors.exceptions import ConfigurationError, Finding
from . import codes

__all__ = ["ROWS_KEPT", "ReportWriter", "RuleTally", "Summary", "meaning_of", "writable"]

DEFAULT_HTML_LIMIT: Final = 20_000


ROWS_KEPT: Final = 1000
"""Row numbers kept per rule in :class:`RuleTally` (the JSON report holds every finding)."""


@dataclass
class RuleTally:
    """The findings of one check: its predicted ``code``, the ``rule`` id, what it means, how
    many there were and the data rows they are on (the first :data:`ROWS_KEPT`)."""

    code: str
    rule: str
    severity: str
    meaning: str
    count: int = 0
    rows: list[int] = field(default_factory=list)
    rows_truncated: bool = False
    """More rows had this finding than :data:`ROWS_KEPT`."""

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity,
            "meaning": self.meaning,
            "count": self.count,
            "rows": list(self.rows),
            "rowsTruncated": self.rows_truncated,
        }


@dataclass
class Summary:
    """Counts of a finished batch."""

    records: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    blocking: int = 0
    warnings: int = 0
    by_rule: dict[tuple[str, str], RuleTally] = field(default_factory=dict)
    """One entry per (code, rule): one meaning per finding, with its rows."""

    def tallies(self) -> list[RuleTally]:
        """The rules found, the most frequent first."""
        return sorted(self.by_rule.values(), key=lambda t: (-t.count, t.code, t.rule))


def meaning_of(finding: Finding) -> str:
    """What the check behind ``finding`` means: its rule's description, else its message."""
    rule = codes.RULES.get(finding.rule)
    return rule.description if rule is not None else finding.message


def writable(target: Path, setting: str) -> None:
    """Fail early, before a long batch, when ``target`` cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part"):
            pass
        if target.is_dir():
            raise IsADirectoryError(21, "is a directory")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write {str(target)!r}: {exc.strerror or exc}", setting=setting
        ) from None


class ReportWriter:
    """Collects findings as they come and writes the reports at :meth:`finish`.

    Either path may be ``None``; with both ``None`` the writer only counts.
    """

    def __init__(
        self,
        *,
        json_path: str | Path | None = None,
        html_path: str | Path | None = None,
        source: str = "",
        html_limit: int = DEFAULT_HTML_LIMIT,
    ):
        self.json_path = Path(json_path) if json_path is not None else None
        self.html_path = Path(html_path) if html_path is not None else None
        self.source = source
        self.html_limit = html_limit
        self.summary = Summary()
        self._spool: IO[str] | None = None
        for path, setting in ((self.json_path, "report"), (self.html_path, "html")):
            if path is not None:
                writable(path, setting)
        if self.json_path is not None or self.html_path is not None:
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def add(self, row: int, finding: Finding) -> None:
        """Record one finding of data row ``row``."""
        summary = self.summary
        summary.by_code[finding.code] += 1
        if finding.blocking:
            summary.blocking += 1
        else:
            summary.warnings += 1
        key = (finding.code, finding.rule)
        tally = summary.by_rule.get(key)
        if tally is None:
            tally = summary.by_rule[key] = RuleTally(
                finding.code, finding.rule, finding.severity, meaning_of(finding)
            )
        tally.count += 1
        if not tally.rows or tally.rows[-1] != row:  # rows come in order
            if len(tally.rows) < ROWS_KEPT:
                tally.rows.append(row)
            else:
                tally.rows_truncated = True
        if self._spool is not None:
            self._spool.write(
                json.dumps(
                    {
                        "row": row,
                        "field": finding.path,
                        "code": finding.code,
                        "severity": finding.severity,
                        "message": finding.message,
                    },
                    ensure_ascii=False,
                )
            )
            self._spool.write("\n")

    def _lines(self) -> Iterator[str]:
        assert self._spool is not None
        self._spool.flush()
        self._spool.seek(0)
        for line in self._spool:
            yield line.rstrip("\n")

    def finish(self, records: int) -> Summary:
        """Write the reports (atomically) and return the counts."""
        self.summary.records = records
        try:
            if self.json_path is not None:
                self._write(self.json_path, self._json_chunks())
            if self.html_path is not None:
                self._write(self.html_path, self._html_chunks())
        finally:
            self.abort()
        return self.summary

    def abort(self) -> None:
        """Drop the spooled findings (no report is written)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    @staticmethod
    def _write(target: Path, chunks: Iterator[str]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, delete=False, suffix=".part"
        ) as tmp:
            try:
                for chunk in chunks:
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                Path(tmp.name).unlink(missing_ok=True)
                raise
        os.replace(tmp.name, target)

    # ------------------------------------------------------------------ JSON

    def _json_chunks(self) -> Iterator[str]:
        summary = dict(sorted(self.summary.by_code.items()))
        yield '{"records": ' + str(self.summary.records)
        yield ', "summary": ' + json.dumps(summary, ensure_ascii=False)
        yield ', "findings": ['
        first = True
        for line in self._lines():
            yield ("\n" if first else ",\n") + line
            first = False
        yield "\n]}\n"

    # ------------------------------------------------------------------ HTML

    def _html_chunks(self) -> Iterator[str]:
        e = html.escape
        s = self.summary
        total = sum(s.by_code.values())
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")  # noqa: UP017
        yield _HTML_HEAD.format(title=e(f"anpr validate: {self.source}"))
        yield (
            f"<h1>Pre-transmission check of <code>{e(self.source)}</code></h1>\n"
            f"<p class=meta>{s.records} records &middot; {s.blocking} blocking findings "
            f"&middot; {s.warnings} warnings &middot; {e(stamp)}</p>\n"
        )
        if not total:
            yield "<p class=ok>No findings: nothing here would make ANPR refuse a record.</p>\n"
        else:
            yield (
                "<h2>Summary by predicted ANPR code</h2>\n<table class=summary><thead><tr>"
                "<th>Code</th><th>Severity</th><th>Findings</th><th>Meaning</th></tr></thead>"
                "<tbody>\n"
            )
            for tally in s.tallies():  # one line per check: one meaning each
                yield (
                    f"<tr><td><code>{e(tally.code)}</code></td><td>{e(tally.severity)}</td>"
                    f"<td class=num>{tally.count}</td><td>{e(tally.meaning)}</td></tr>\n"
                )
            yield "</tbody></table>\n"
            options = "".join(
                f'<option value="{e(code)}">{e(code)}</option>' for code in sorted(s.by_code)
            )
            yield _HTML_FILTERS.format(options=options)
            if total > self.html_limit:
                yield (
                    f"<p class=warn>This page lists the first {self.html_limit} of {total} "
                    "findings; the JSON report lists them all.</p>\n"
                )
            yield (
                "<table id=findings><thead><tr><th>Row</th><th>Field</th><th>Code</th>"
                "<th>Severity</th><th>Message</th></tr></thead><tbody>\n"
            )
            for n, line in enumerate(self._lines()):
                if n >= self.html_limit:
                    break
                f = json.loads(line)
                sev = "E" if f["severity"] != "W" else "W"
                yield (
                    f'<tr data-code="{e(f["code"])}" data-sev="{sev}" class=sev-{sev}>'
                    f"<td class=num>{int(f['row'])}</td><td>{e(f['field'])}</td>"
                    f"<td><code>{e(f['code'])}</code></td><td>{e(f['severity'])}</td>"
                    f"<td>{e(f['message'])}</td></tr>\n"
                )
            yield "</tbody></table>\n"
        yield _HTML_TAIL


_HTML_HEAD: Final = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}
h1{{font-size:1.3em}} h2{{font-size:1.1em;margin-top:1.5em}}
table{{border-collapse:collapse;margin:.5em 0}} th,td{{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}}
th{{background:#f0f0f0}} td.num{{text-align:right}} .meta{{color:#555}}
tr.sev-E td:nth-child(4){{color:#a00;font-weight:bold}} tr.sev-W td:nth-child(4){{color:#a60}}
.ok{{color:#070}} .warn{{color:#a60}} .filters label{{margin-right:1em}}
</style></head><body>
"""  # noqa: E501

_HTML_FILTERS: Final = """<h2>Findings</h2>
<div class=filters>
<label>Code <select id=f-code><option value="">all</option>{options}</select></label>
<label>Severity <select id=f-sev><option value="">all</option><option value="E">E (blocking)</option><option value="W">W (warning)</option></select></label>
<label>Text <input id=f-text type=search placeholder="row, field, message"></label>
<span id=f-count></span>
</div>
"""  # noqa: E501

_HTML_TAIL: Final = """<script>
(function(){
  var code=document.getElementById('f-code'), sev=document.getElementById('f-sev'),
      text=document.getElementById('f-text'), count=document.getElementById('f-count');
  if(!code) return;
  var rows=document.querySelectorAll('#findings tbody tr');
  function apply(){
    var c=code.value, s=sev.value, t=text.value.toLowerCase(), shown=0;
    for(var i=0;i<rows.length;i++){
      var r=rows[i], ok=(!c||r.getAttribute('data-code')===c)&&(!s||r.getAttribute('data-sev')===s)
        &&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
      r.style.display=ok?'':'none'; if(ok) shown++;
    }
    count.textContent=shown+' shown';
  }
  code.onchange=sev.onchange=apply; text.oninput=apply; apply();
})();
</script>
</body></html>
"""
