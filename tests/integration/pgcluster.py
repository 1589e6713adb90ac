"""A throwaway PostgreSQL 15 primary with streaming replicas, for the tests
that need replication (test_replica.py). Made the way scripts/pg.sh makes the
dev cluster: initdb -A trust (its pg_hba has `replication` lines for
127.0.0.1), as user postgres when run as root; replicas by pg_basebackup -R
with a replication slot each (the primary keeps their WAL), so they stream
from the start. Everything lives in one temporary folder, removed at close."""

import os
import random
import shutil
import socket
import subprocess
import tempfile

BIN = "/usr/lib/postgresql/15/bin"
DB = "threadstore"


def available():
    return os.path.exists(os.path.join(BIN, "initdb")) and os.path.exists(
        os.path.join(BIN, "pg_basebackup"))


def _as_owner(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def _run(cmd, log=None):
    out = subprocess.run(_as_owner(cmd), stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), out.returncode,
                                                      out.stdout, out.stderr))
    return out.stdout


def _port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _pick_port(taken):
    """A port in 25600-25699 (below the ephemeral range) that binds now."""
    ports = list(range(25600, 25700))
    random.shuffle(ports)
    for p in ports:
        if p not in taken and _port_free(p):
            taken.add(p)
            return p
    raise RuntimeError("no free port in 25600-25699")


class Node:
    def __init__(self, cluster, name, port):
        self.cluster = cluster
        self.name = name
        self.port = port
        self.data = os.path.join(cluster.dir, name)
        self.log = os.path.join(cluster.dir, name + ".log")

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, DB)

    def conf(self, text):
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(text)

    def start(self):
        _run([os.path.join(BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60",
              "start"])

    def stop(self, mode="fast"):
        _run([os.path.join(BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "60",
              "stop"])

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def sql(self, sql, db=DB):
        out = subprocess.run(
            [shutil.which("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", db, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError("psql on %s failed: %s" % (self.name, out.stderr))
        return out.stdout.strip()


class Cluster:
    """Cluster() makes and starts the primary; add_replica() the replicas."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ts-replica-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.ports = set()
        self.nodes = []
        self.primary = Node(self, "primary", _pick_port(self.ports))
        self.nodes.append(self.primary)
        _run([os.path.join(BIN, "initdb"), "-D", self.primary.data, "-U", "postgres",
              "-A", "trust", "-E", "UTF8", "--no-locale"])
        self.primary.conf(self._common(self.primary.port) + """
wal_level = replica
max_wal_senders = 8
max_replication_slots = 8
""")
        self.primary.start()
        self.primary.sql("CREATE DATABASE %s" % DB, db="postgres")

    def _common(self, port):
        return """
# test_replica.py
port = %d
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 40
shared_buffers = 16MB
fsync = off
full_page_writes = off
""" % (port, self.dir)

    def add_replica(self, name, extra_conf=""):
        n = Node(self, name, _pick_port(self.ports))
        slot = name.replace("-", "_")
        _run([os.path.join(BIN, "pg_basebackup"), "-h", "127.0.0.1", "-p",
              str(self.primary.port), "-U", "postgres", "-D", n.data, "-R", "-X", "stream",
              "-C", "-S", slot, "--checkpoint=fast"])
        n.conf(self._common(n.port) + "hot_standby = on\nhot_standby_feedback = on\n" +
               extra_conf)
        n.start()
        self.nodes.append(n)
        return n

    def close(self):
        for n in reversed(self.nodes):
            if n.running():
                try:
                    n.stop("immediate")
                except RuntimeError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)
