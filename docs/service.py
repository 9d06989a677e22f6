# The program behind docs/trace_eventlet.png: python -m minievent trace --plot docs/trace_eventlet.png docs/service.py
import eventlet


def spin(seconds):
    end = eventlet.hubs.get_hub().clock() + seconds
    while eventlet.hubs.get_hub().clock() < end:  # computes: no yield
        pass


def heartbeat():
    for _ in range(25):
        eventlet.sleep(0.1)  # due every 0.1 s: at 0.3 s too, while long_task holds the hub


def long_task():
    eventlet.sleep(0.25)
    spin(1.0)


beat = eventlet.spawn(heartbeat)
eventlet.spawn(long_task).wait()
beat.wait()
