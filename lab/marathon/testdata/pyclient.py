"""Drive the lab Marathon with Debian's python3-marathon client, unchanged.

Usage: pyclient.py MARATHON_URL TASK_CMD
Prints one line per step; exits non-zero with the reason on the first failure.
"""
import sys
import time

import marathon
from marathon.models.app import PortDefinition

url, cmd = sys.argv[1], sys.argv[2]
c = marathon.MarathonClient(url, timeout=10)


def wait(what, cond, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = cond()
            if last:
                return last
        except Exception as e:  # keep polling, report the last error
            last = repr(e)
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}; last: {last!r}")


def running(app_id, n):
    tasks = c.list_tasks(app_id)
    return len(tasks) == n and all(t.state == "TASK_RUNNING" for t in tasks) and tasks


# Follow the event stream in the background, as an operator's tool would.
import threading
seen = set()


def follow():
    for ev in c.event_stream(event_types=["deployment_info", "deployment_step_success",
                                          "deployment_success", "status_update_event"]):
        seen.add(ev.event_type)


threading.Thread(target=follow, daemon=True).start()
time.sleep(0.5)

assert c.ping() is not None
info = c.get_info()
print("info", info.name, info.version)

app = marathon.MarathonApp(
    cmd=cmd, instances=2, cpus=0.1, mem=32,
    port_definitions=[PortDefinition(port=0, protocol="tcp", name="http")],
    env={"DEMO_VERSION": "py"},
    health_checks=[marathon.models.app.MarathonHealthCheck(
        protocol="HTTP", path="/health", port_index=0, grace_period_seconds=15,
        interval_seconds=1, timeout_seconds=2, max_consecutive_failures=3)],
)
created = c.create_app("pyapp", app)
print("created", created.id, created.instances)
assert created.id == "/pyapp", created.id

wait("2 running tasks", lambda: running("/pyapp", 2))
apps = c.list_apps(embed_counts=True, embed_tasks=True)
assert [a.id for a in apps] == ["/pyapp"], apps
wait("2 healthy tasks", lambda: c.get_app("/pyapp").tasks_healthy == 2)
print("listed", len(apps), "healthy", c.get_app("/pyapp").tasks_healthy)

dep = c.scale_app("/pyapp", instances=3)
print("scaled", dep["deploymentId"] is not None)
wait("3 running tasks", lambda: running("/pyapp", 3))
wait("no deployments", lambda: c.list_deployments() == [])

tasks = c.list_tasks("/pyapp")
c.kill_task("/pyapp", tasks[0].id, scale=True)
wait("instances 2", lambda: c.get_app("/pyapp").instances == 2)
wait("2 running tasks after kill", lambda: running("/pyapp", 2))
print("killed", tasks[0].id)

all_tasks = c.list_tasks()
assert len(all_tasks) == 2, all_tasks
assert c.list_queue() == [], c.list_queue()
versions = c.list_versions("/pyapp")
assert len(versions) >= 3, versions
print("versions", len(versions))

groups = c.list_groups()
print("groups", len(groups))

# An app no agent can take waits in the queue with the reason.
c.create_app("huge", marathon.MarathonApp(cmd="sleep 600", cpus=64, mem=16))
q = wait("a queue entry", lambda: c.list_queue(embed_last_unused_offers=True))
assert q[0].app.id == "/huge" and q[0].count == 1, q
print("queued", q[0].app.id, q[0].count)
c.delete_app("/huge", force=True)

wait("events", lambda: {"deployment_info", "deployment_step_success", "deployment_success",
                        "status_update_event"} <= seen)
print("events", sorted(seen))

c.delete_app("/pyapp")
wait("app gone", lambda: c.list_apps() == [])
wait("tasks gone", lambda: c.list_tasks() == [])
print("OK")
