"""Runs a client program that prints `CHECK <name> PASS|FAIL <detail>` lines (the JDBC and Node
tests) and turns its output into one pytest test per check."""

import subprocess

import pytest


def run_checks(cmd, env=None, cwd=None, timeout=120):
    """Runs `cmd` and returns ({check name: (passed, detail)}, whole output)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    output = proc.stdout + proc.stderr
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("CHECK "):
            _, name, verdict, *rest = line.split(" ", 3) + [""]
            results[name] = (verdict == "PASS", " ".join(rest).strip())
    return results, output


def params(names, xfail):
    """pytest params for check names; `xfail` maps a check name to why it fails on Oxbow."""
    unknown = set(xfail) - set(names)
    assert not unknown, f"xfail for unknown checks: {unknown}"
    return [pytest.param(n, id=n, marks=[pytest.mark.xfail(strict=True, reason=xfail[n])]
                         if n in xfail else []) for n in names]


def assert_check(results, output, name):
    assert name in results, f"check {name} did not run; program output:\n{output[-4000:]}"
    passed, detail = results[name]
    assert passed, detail
