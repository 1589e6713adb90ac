"""threadstore on Citus: a coordinator and its workers, tables distributed by user_id.

Runs only when THREADSTORE_CITUS_URL names a database on a Citus coordinator (the citus
extension created, workers added with citus_add_node); CI has no Citus, so it skips there.
docs/SCALING.md says how to build Citus and start a cluster for a local run.

- `threadstore migrate --citus` distributes every table keyed by user, co-located;
- every statement of src/queries.c, EXPLAINed on the coordinator past PostgreSQL's five
  custom plans, is routed to one worker (single-shard tasks on one node);
- the API's conformance: the existing integration modules run again (a child pytest) with
  DATABASE_URL pointing at the coordinator and citus.multi_task_query_log_level = error,
  so a statement that fans out to several shards fails the request that sent it; the
  change feed's modules and the spec's admin call run again without it (GLOBAL);
- the changes' xid is the coordinator's; the triggers of sql/008 and sql/009 keep the
  activity and the counts on the workers; the admin feed and the sweep work over all shards.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import pytest

import tshelpers as th

CITUS_URL = os.environ.get("THREADSTORE_CITUS_URL", "")
pytestmark = pytest.mark.skipif(
    not CITUS_URL,
    reason="THREADSTORE_CITUS_URL is not set: no Citus coordinator to test against "
           "(Citus is not packaged for Debian; docs/SCALING.md: a local run)")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))

# Every endpoint and its contract; not re-run: modules about the process, the network or
# other software (HTTP framing, TLS, JWKS, availability and faults of plain PostgreSQL,
# HAProxy, PgBouncer, Better Auth's own tables).
CONFORMANCE = [
    "test_threads.py", "test_items.py", "test_attachments.py", "test_ordering.py",
    "test_isolation.py", "test_isolation_matrix.py", "test_export.py", "test_search.py",
    "test_openapi.py", "test_errors.py", "test_history.py", "test_large_items.py",
    "test_auth.py", "test_attack_status_409.py", "test_attack_query_numbers.py",
    "test_limits.py", "test_ops.py", "test_cli.py",
]

# Modules that use the global statements (admin feed, retention sweep): run without
# citus.multi_task_query_log_level = error.
GLOBAL = ["test_changes.py", "test_changes_hostile.py"]
# Tests that call a global statement besides per-user ones (the admin feed, the operator's
# user list: every shard by design): left out of the strict conformance run, run with GLOBAL.
GLOBAL_TESTS = ["test_openapi.py::test_real_responses_match_the_spec",
                "test_openapi.py::test_operator_responses_match_the_spec"]

# Statements that do not run on Citus, with the error Citus gives (docs/SCALING.md, "Known
# limits"). The routing test checks each still fails with exactly this error, and then
# reports the test as an expected failure naming them: never a pass. None since
# erase_attachments deletes by key range and admin_users groups by user (w-citus3).
KNOWN_BROKEN = {}


def broken_on_citus(*names):
    """An expected failure (never a pass) while a statement the test needs is broken."""
    hit = sorted(set(names) & set(KNOWN_BROKEN))
    if hit:
        pytest.xfail("does not run on Citus: %s (KNOWN_BROKEN)" % ", ".join(hit))


DUMP_C = r"""
#include <stdio.h>
#include "queries.h"
int main(void)
{
	for (int i = 0; i < Q_COUNT; i++)
		printf("%s%c%d%c%d%c%s%c", queries[i].name, 0, queries[i].nparams, 0,
		       queries[i].global, 0, queries[i].sql, 0);
	return 0;
}
"""


def strict_url(url):
    """The URL with citus.multi_task_query_log_level = error: a multi-shard query fails."""
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(u.query)
    q.append(("options", "-c citus.multi_task_query_log_level=error"))
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q, quote_via=urllib.parse.quote)))


def psql(sql):
    return th.psql(CITUS_URL, sql, appname="ts_it_citus")


@pytest.fixture(scope="module")
def distributed():
    if th.psql_path() is None:
        pytest.fail("THREADSTORE_CITUS_URL is set but psql is not installed")
    if not psql("SELECT 1 FROM pg_extension WHERE extname = 'citus'"):
        pytest.fail("THREADSTORE_CITUS_URL names a database without the citus extension")
    workers = psql("SELECT count(*) FROM pg_dist_node WHERE shouldhaveshards AND isactive")
    if int(workers[0][0]) < 2:
        pytest.fail("the Citus cluster needs at least two workers for this test")
    for _ in range(2):  # the second run finds everything distributed: idempotent
        out = subprocess.run([th.binary_path(), "migrate", "--citus",
                              "--database-url", CITUS_URL],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert "level=error" not in out.stderr, out.stderr
    return int(workers[0][0])


def test_tables_keyed_by_user_are_distributed_and_colocated(distributed):
    rows = psql("SELECT c.relname, p.partmethod, p.colocationid,"
                " pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)"
                " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                " LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid"
                " WHERE c.relkind = 'r' AND a.attname = 'user_id' AND NOT a.attisdropped"
                " AND c.relnamespace = current_schema()::regnamespace ORDER BY 1")
    tables = {r[0]: r[1:] for r in rows}
    # A table added by a migration that is keyed by user but missing from the list in
    # src/citus.c would show here as local (partmethod empty).
    assert {"threads", "items", "attachments"} <= set(tables)
    for name, (method, coloc, column) in tables.items():
        assert (method, column) == ("h", "user_id"), (name, method, column)
        assert coloc == tables["threads"][1], (name, "not co-located with threads")
    # the bookkeeping and the sequence stay on the coordinator
    assert psql("SELECT 1 FROM pg_dist_partition"
                " WHERE logicalrelid = 'threadstore_migrations'::regclass") == []
    shards = psql("SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement"
                  " JOIN pg_dist_shard USING (shardid)"
                  " WHERE logicalrelid = 'threads'::regclass")
    assert int(shards[0][0]) == distributed


def statements(tmp):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler to read the statement table of src/queries.c")
    src, exe = os.path.join(tmp, "dump.c"), os.path.join(tmp, "dump")
    with open(src, "w") as f:
        f.write(DUMP_C)
    subprocess.run([cc, "-I", os.path.join(ROOT, "include"), "-o", exe, src,
                    os.path.join(ROOT, "src", "queries.c")], check=True)
    raw = subprocess.run([exe], capture_output=True, check=True).stdout.decode().split("\0")
    return [(raw[i], int(raw[i + 1]), raw[i + 2] == "1", raw[i + 3])
            for i in range(0, len(raw) - 1, 4)]


def sample(sql, n):
    """A value of the right shape for $n (EXPLAIN plans with it; nothing runs)."""
    if re.search(r"\$%d::regconfig|threadstore_tsvector\(\$%d" % (n, n), sql):
        return "'simple'"
    if re.search(r"\$%d::text::jsonb" % n, sql):
        return "'{}'"
    if re.search(r"split_part\(\$%d" % n, sql):
        return "'0.5:10'"
    return "'10'"


def routed_by_running(name, sql, args):
    """The ports of the nodes whose shards the statement's commands name, run once and
    rolled back (citus.log_remote_commands); fails unless there is exactly one."""
    script = ("BEGIN;\nSET LOCAL citus.log_remote_commands = on;\n"
              "PREPARE s AS %s;\nEXECUTE s(%s);\nROLLBACK;\n" % (sql, args))
    out = subprocess.run([th.psql_path(), CITUS_URL, "-X", "-q", "-A", "-t",
                          "-v", "ON_ERROR_STOP=1"], input=script,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (name, out.stderr)
    ports = set(re.findall(r"NOTICE:  issuing [^\n]*public\.\w+_\d+\b[^\n]*\n"
                           r"DETAIL:  on server \S+:(\d+)", out.stderr))
    assert len(ports) == 1, (name, out.stderr)
    return ports


def test_every_statement_is_routed_to_one_worker(distributed):
    with tempfile.TemporaryDirectory() as tmp:
        stmts = statements(tmp)
    assert len(stmts) >= 30
    several_tasks, local, fanned_out, executed = [], [], [], []
    coordinator = psql("SELECT nodeport FROM pg_dist_node WHERE groupid = 0")[0][0]
    distributed_tables = {r[0] for r in psql("SELECT logicalrelid::text FROM pg_dist_partition")}
    for name, nparams, global_, sql in stmts:
        args = ", ".join(sample(sql, i) for i in range(1, nparams + 1))
        # Seven EXPLAINs: past the five custom plans after which PostgreSQL may switch a
        # prepared statement to a generic plan (Citus keeps it custom).
        script = ("PREPARE s AS %s;\n" % sql +
                  "EXPLAIN (COSTS OFF) EXECUTE s(%s);\n" % args * 7)
        out = subprocess.run([th.psql_path(), CITUS_URL, "-X", "-q", "-A", "-t",
                              "-v", "ON_ERROR_STOP=1"], input=script,
                             capture_output=True, text=True, timeout=60)
        if name in KNOWN_BROKEN:
            assert out.returncode != 0 and KNOWN_BROKEN[name] in out.stderr, (name, out.stderr)
            continue
        if out.returncode != 0 and "could not create distributed plan" in out.stderr:
            # Citus cannot EXPLAIN an INSERT ... SELECT from a modifying CTE with
            # parameters (thread_put, thread_delete), yet runs it: run it, rolled back, and read
            # the nodes whose shards its commands name.
            assert re.search(r"\) INSERT INTO \w+ \(", sql), (name, out.stderr)
            assert routed_by_running(name, sql, args) - {coordinator}, name
            executed.append(name)
            continue
        assert out.returncode == 0, (name, out.stderr)
        lines = out.stdout.splitlines()
        tops = [i for i, line in enumerate(lines) if line.startswith("Custom Scan (Citus")]
        if global_ and "Custom Scan (Citus" in out.stdout:
            # over all users by design (admin feed, retention, expiry): every shard
            last = out.stdout.split("EXPLAIN")[-1] if tops == [] else "\n".join(lines[tops[-1]:])
            counts = re.findall(r"Task Count: (\d+)", last)
            assert any(c != "1" for c in counts), (name, last)
            fanned_out.append(name)
            continue
        if not tops:
            # no table at all (the pool's WAL positions, the NOTIFY): the coordinator's own
            words = set(re.findall(r"\w+", sql))
            assert not words & distributed_tables, (name, out.stdout)
            local.append(name)
            continue
        assert len(tops) == 7, (name, out.stdout)
        last = "\n".join(lines[tops[-1]:])
        counts = re.findall(r"Task Count: (\d+)", last)
        # the coordinator may combine the subplans' results itself (no shard there)
        ports = set(re.findall(r"Node: host=\S+ port=(\d+)", last)) - {coordinator}
        assert counts and all(c == "1" for c in counts), (name, last)
        assert len(ports) == 1, (name, last)
        if "Distributed Subplan" in last:
            several_tasks.append(name)
    # A write with modifying CTEs (the touch of the thread, the change head and record)
    # is planned by Citus as subplans and the main statement: single-shard tasks on the
    # same worker, one transaction.
    by_name = {n: q for n, _, _, q in stmts}
    assert all(re.search(r"AS \((INSERT|UPDATE|DELETE) ", by_name[n]) for n in several_tasks), \
        several_tasks
    assert {"item_put", "item_add", "attachment_put"} <= set(several_tasks), several_tasks
    assert set(executed) <= {"thread_put", "thread_delete"}, executed
    assert set(fanned_out) == {"admin_changes", "admin_users", "changes_sweep", "sweep_expired",
                               "sweep_retained"}, fanned_out
    assert set(local) <= {"changes_notify", "wal_lsn", "wal_flush", "replay_lsn",
                          "sweep_lease"}, local
    broken_on_citus(*KNOWN_BROKEN)


def conformance(url, args):
    env = dict(os.environ, DATABASE_URL=url)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + args
    out = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True,
                         timeout=1800)
    tail = "\n".join(out.stdout.splitlines()[-30:])
    print(tail)
    assert out.returncode == 0, tail
    assert re.search(r"\d+ passed", tail), tail


def test_api_conformance_on_citus(distributed):
    broken_on_citus("thread_put")
    out = sum((["--deselect", t] for t in GLOBAL_TESTS), [])
    conformance(strict_url(CITUS_URL), CONFORMANCE + out)


def test_global_endpoints_on_citus(distributed):
    """The admin feed, the operator's user list and the retention sweep fan out by design:
    these modules run without the multi-shard error (their per-user statements are checked
    by the EXPLAINs above)."""
    broken_on_citus("thread_put")
    conformance(CITUS_URL, GLOBAL + GLOBAL_TESTS)


def run_script(script):
    """Rows of the script's output, as lists of columns (unit and record separators)."""
    out = subprocess.run([th.psql_path(), CITUS_URL, "-X", "-q", "-A", "-t", "-F", "\x1f",
                          "-R", "\x1e", "-v", "ON_ERROR_STOP=1"], input=script,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    recs = re.split("[\x1e\n]", out.stdout)  # psql ends each result with a newline
    return [r.split("\x1f") for r in recs if r]


def prepared(stmts, *names):
    by = {n: sql for n, _, _, sql in stmts}
    return "".join("PREPARE %s AS %s;\n" % (n, by[n]) for n in names)


THREAD = '{"id": "%s", "created_at": 1, "status": {"type": "active"}, "metadata": {"k": "v"}}'
WRITES = ("thread_put", "item_add", "item_put", "attachment_put", "attachment_delete",
          "item_delete", "thread_delete")


def test_writes_record_their_changes_with_the_coordinators_xid(distributed):
    """The changes' xid default is evaluated on the coordinator (the records are INSERT ...
    SELECTs that Citus pulls there): one xid space, the admin feed's order holds."""
    broken_on_citus("thread_put")
    with tempfile.TemporaryDirectory() as tmp:
        stmts = statements(tmp)
    u, t = "citus-xid-%d" % os.getpid(), "t1"
    item = '{"id": "i1", "type": "user_message", "content": []}'
    att = '{"id": "a1", "thread_id": "%s"}' % t
    lines = run_script(
        prepared(stmts, *WRITES) + "BEGIN;\nSELECT 'coordinator', pg_current_xact_id();\n" +
        "EXECUTE thread_put('%s', '%s', 1, '%s', 'simple', '');\n" % (u, t, THREAD % t) +
        "EXECUTE item_add('%s', '%s', 'i1', 2, '%s', 'simple');\n" % (u, t, item) +
        "EXECUTE item_put('%s', '%s', 'i1', 2, '%s', 'simple');\n" % (u, t, item) +
        "EXECUTE attachment_put('%s', 'a1', '%s');\n" % (u, att) +
        "EXECUTE attachment_delete('%s', 'a1');\n" % u +
        "EXECUTE item_delete('%s', '%s', 'i1');\n" % (u, t) +
        "EXECUTE thread_delete('%s', '%s');\n" % (u, t) +
        "SELECT 'changes', count(*), count(DISTINCT xid), min(xid) FROM changes"
        " WHERE user_id = '%s';\nROLLBACK;\n" % u)
    rows = {r[0]: r[1:] for r in lines if len(r) > 1}
    assert rows["changes"][:2] == [str(len(WRITES)), "1"], lines
    assert rows["changes"][2] == rows["coordinator"][0], lines


def test_triggers_keep_counts_and_activity_on_the_workers(distributed):
    """sql/009's statement triggers (transition tables) and sql/008's row trigger run on
    the shards (citus.enable_unsafe_triggers at distribution); their writes go to the
    co-located shards of the same worker, in the statement's transaction."""
    u = "citus-counts-%d" % os.getpid()
    lines = run_script(
        "BEGIN;\n"
        # several rows in one statement: the statement trigger counts them once
        "INSERT INTO threads (user_id, id, created_us, seq, doc, facets)"
        " SELECT '%s', 't' || i, i, nextval('threadstore_seq'), format('%s', 't' || i),"
        " NULL FROM generate_series(1, 5) i;\n" % (u, THREAD.replace("%s", "%%s")) +
        "SELECT 'total', n FROM thread_counts WHERE user_id = '%s' AND facet = '{}';\n" % u +
        "SELECT 'meta', n FROM thread_counts WHERE user_id = '%s'"
        " AND facet = '{\"m\": {\"k\": \"v\"}}';\n" % u +
        "DELETE FROM threads WHERE user_id = '%s' AND id IN ('t1', 't2');\n" % u +
        "SELECT 'after', n FROM thread_counts WHERE user_id = '%s' AND facet = '{}';\n" % u +
        # an older binary's write of the thread's activity: the row trigger copies it
        "UPDATE threads SET updated_us = 77 WHERE user_id = '%s' AND id = 't3';\n" % u +
        "SELECT 'activity', updated_us FROM thread_activity"
        " WHERE user_id = '%s' AND thread_id = 't3';\nROLLBACK;\n" % u)
    rows = {r[0]: r[1] for r in lines if len(r) > 1}
    assert rows == {"total": "5", "meta": "5", "after": "3", "activity": "77"}, lines


def test_global_statements_run_over_every_shard(distributed):
    """The admin feed and the retention sweep are over all users by design: multi-shard
    on Citus (docs/SCALING.md), and they work there."""
    broken_on_citus("thread_put")
    with tempfile.TemporaryDirectory() as tmp:
        stmts = statements(tmp)
    u, t = "citus-global-%d" % os.getpid(), "t1"
    run_script(prepared(stmts, "thread_put") +
               "EXECUTE thread_put('%s', '%s', 1, '%s', 'simple', '');\n" % (u, t, THREAD % t))
    mine = run_script("SELECT xid FROM changes WHERE user_id = '%s';\n" % u)
    assert len(mine) == 1, mine
    feed = run_script(prepared(stmts, "admin_changes") +
                      "EXECUTE admin_changes('0', '', 0, 1000000, 1000000000);\n")
    listed = [r for r in feed if r[2] == u]
    assert [(r[1], r[4]) for r in listed] == [(mine[0][0], "thread.saved")], feed[-5:]
    keys = [(int(r[1]), r[2].encode(), int(r[3])) for r in feed if r[1]]
    assert keys == sorted(keys)
    swept = run_script(prepared(stmts, "changes_sweep") +
                       "BEGIN;\nSELECT 'swept', count(*) > 0 FROM changes;\n"
                       "EXECUTE changes_sweep(0, 100000000);\n"
                       "SELECT 'left', count(*) FROM changes WHERE user_id = '%s';\n"
                       "SELECT 'mark', xid >= '%s' FROM change_sweeps;\nROLLBACK;\n"
                       % (u, mine[0][0]))
    assert swept[0] == ["swept", "t"] and swept[2:] == [["left", "0"], ["mark", "t"]], swept
    assert int(swept[1][0]) >= 1, swept
