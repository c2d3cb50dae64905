// Attach and exec streams through hoistd as clients see them (docker-py, the docker CLI on a pty),
// checked against what dockerd 20.10 does: logs=1 replays the output so far, detach keys end an
// attach (or an exec's stream) and leave the process running, the end of a terminal client's
// input ends its attach, and an exec's start (not its create) decides whether its stream is
// multiplexed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hoistd_harness.h"

using hoist::test::CmdResult;
using hoist::test::Hoistd;

namespace {

// Python prelude for the docker-py scripts: a low-level client on hoistd, and helpers that read a
// hijacked socket until it closes (or a deadline) and split Docker's frames.
const char* kPrelude = R"PY(
import os, sys, time, socket, select, docker
api = docker.APIClient(base_url=os.environ['HOIST_HOST'], version='1.41')
def sock_of(s):
    return getattr(s, '_sock', s)
# Reads through the HTTP response's buffer: what came with the head is in there, not in the socket.
def read_until(s, pred=lambda b: False, timeout=10):
    fp = s._response.raw._fp.fp; out = b''; end = time.time() + timeout
    while time.time() < end:
        sock_of(s).settimeout(max(0.01, end - time.time()))
        try: d = fp.read1(65536)
        except (socket.timeout, TimeoutError): break
        if not d: return out, True
        out += d
        if pred(out): return out, False
    return out, False
def frames(b):
    out = []
    while len(b) >= 8:
        n = int.from_bytes(b[4:8], 'big'); out.append((b[0], b[8:8+n])); b = b[8+n:]
    return out
def running(cid):
    return api.inspect_container(cid)['State']['Running']
)PY";

class AttachTest : public hoist::test::DaemonTest {
 protected:
  AttachTest() : DaemonTest("attach") {}
  void SetUp() override {
    if (hoist::test::run_cmd({"python3", "-c", "import docker"}).code != 0) GTEST_SKIP() << "python3-docker missing";
    DaemonTest::SetUp();
  }
  CmdResult py(const std::string& body, int timeout_s = 60) { return d_->python(std::string(kPrelude) + body, timeout_s); }
};

}  // namespace

TEST_F(AttachTest, LogsReplayTheOutputSoFar) {
  // stream=0: the log, multiplexed per the streams asked for, then the end; on a running
  // container and on one that has exited.
  auto r = py(R"PY(
run = api.create_container('bb:1', ['sh', '-c', 'echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 300'])['Id']
api.start(run)
done = api.create_container('bb:1', ['sh', '-c', 'echo last; sleep 0.1; echo gone >&2'])['Id']
api.start(done); api.wait(done)
time.sleep(0.5)
for cid in (run, done):
    for q in ({'stdout': 1, 'stderr': 1}, {'stdout': 1}, {'stderr': 1}):
        s = api.attach_socket(cid, params=dict(q, logs=1, stream=0))
        out, closed = read_until(s)
        print(cid == run, sorted(q), closed, frames(out))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out,
            "True ['stderr', 'stdout'] True [(1, b'out1\\n'), (2, b'err1\\n'), (1, b'out2\\n')]\n"
            "True ['stdout'] True [(1, b'out1\\n'), (1, b'out2\\n')]\n"
            "True ['stderr'] True [(2, b'err1\\n')]\n"
            "False ['stderr', 'stdout'] True [(1, b'last\\n'), (2, b'gone\\n')]\n"
            "False ['stdout'] True [(1, b'last\\n')]\n"
            "False ['stderr'] True [(2, b'gone\\n')]\n");
}

TEST_F(AttachTest, LogsThenLiveOutput) {
  // logs=1&stream=1: what was printed, then what comes; a TTY's log is raw.
  auto r = py(R"PY(
for tty in (False, True):
    cid = api.create_container('bb:1', ['sh', '-c', 'echo first; read x; echo got-$x; sleep 300'],
                               stdin_open=True, tty=tty)['Id']
    api.start(cid)
    while b'first' not in api.logs(cid): time.sleep(0.1)
    s = api.attach_socket(cid, params={'logs': 1, 'stream': 1, 'stdin': 1, 'stdout': 1, 'stderr': 1})
    out, _ = read_until(s, lambda b: b'first' in b)
    sock_of(s).sendall(b'abc\n')
    more, closed = read_until(s, lambda b: b'got-abc' in b)
    if tty: print(tty, closed, b'first' in out, b'got-abc' in more, out[:1] != b'\x01')
    else: print(tty, closed, frames(out + more))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out,
            "False False [(1, b'first\\n'), (1, b'got-abc\\n')]\n"
            "True False True True True\n");
}

TEST_F(AttachTest, DetachKeysEndAnAttachAndTheContainerRunsOn) {
  // Typed one by one or in one chunk; the default ctrl-p ctrl-q, a detachKeys query, and the
  // detachKeys of the client's config.json (docker-py sends it as the query).
  std::string cfg = d_->dir() + "/pyconfig";
  std::filesystem::create_directories(cfg);
  std::ofstream(cfg + "/config.json") << R"({"detachKeys": "ctrl-x,x"})";
  auto r = d_->python(std::string("import os\nos.environ['PYCONFIG'] = '") + cfg + "'\n" + kPrelude + R"PY(
t0 = int(time.time()) - 1
cid = api.create_container('bb:1', ['sh'], stdin_open=True, tty=True)['Id']
api.start(cid)
def attach(keys, chunks, extra={}):
    s = api.attach_socket(cid, params=dict({'stdin': 1, 'stdout': 1, 'stream': 1}, **extra))
    sock_of(s).sendall(b'\x15echo hi-$((6*7))\n')
    out, closed = read_until(s, lambda b: b'hi-42' in b)
    assert b'hi-42' in out, out
    for c in chunks:
        sock_of(s).sendall(c); time.sleep(0.2)
    out, closed = read_until(s, timeout=5)
    print(keys, closed, running(cid))
attach('default', [b'\x10', b'\x11'])
attach('default-in-one', [b'\x10\x11'])
attach('ctrl-a', [b'\x10', b'\x11', b'\x01'], {'detachKeys': 'ctrl-a'})
os.environ['DOCKER_CONFIG'] = os.environ['PYCONFIG']
api = docker.APIClient(base_url=os.environ['HOIST_HOST'], version='1.41')
attach('config', [b'\x18', b'x'])
try:
    api.attach_socket(cid, params={'stdin': 1, 'stdout': 1, 'stream': 1, 'detachKeys': 'ctrl-aa'})
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)
evs = [e['Action'] for e in api.events(since=t0, until=int(time.time()) + 1, decode=True, filters={'container': cid})]
print(evs.count('attach'), evs.count('detach'))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out,
            "default True True\n"
            "default-in-one True True\n"
            "ctrl-a True True\n"
            "config True True\n"
            "400 Invalid detach keys (ctrl-aa) provided\n"
            "4 4\n");
}

TEST_F(AttachTest, EndOfInputEndsATerminalsAttachOnly) {
  // Docker: a client's EOF on stdin ends its attach to a TTY (stdin stays open, the process runs
  // on); without a TTY and with StdinOnce it closes the process's stdin and the stream goes on.
  auto r = py(R"PY(
def create(cmd, tty):
    cfg = api.create_container_config('bb:1', cmd, stdin_open=True, tty=tty)
    cfg['StdinOnce'] = True
    return api._result(api._post_json(api._url('/containers/create'), data=cfg), True)['Id']
tty = create(['sh', '-c', 'cat; echo after-eof; sleep 300'], True)
api.start(tty)
s = api.attach_socket(tty, params={'stdin': 1, 'stdout': 1, 'stream': 1})
sock_of(s).sendall(b'hello\n')
read_until(s, lambda b: b'hello\r\nhello' in b)
sock_of(s).shutdown(socket.SHUT_WR)
out, closed = read_until(s, timeout=5)
time.sleep(0.5)
print('tty', closed, b'after-eof' in out, b'after-eof' in api.logs(tty), running(tty))
pipe = create(['sh', '-c', 'cat; echo after-eof'], False)
s = api.attach_socket(pipe, params={'stdin': 1, 'stdout': 1, 'stream': 1})
api.start(pipe)
sock_of(s).sendall(b'hello\n')
time.sleep(0.3)
sock_of(s).shutdown(socket.SHUT_WR)
out, closed = read_until(s, timeout=10)
print('pipe', closed, frames(out))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "tty True False False True\npipe True [(1, b'hello\\n'), (1, b'after-eof\\n')]\n");
}

TEST_F(AttachTest, ExecDetachKeysLeaveTheProcessRunning) {
  auto r = py(R"PY(
cid = api.create_container('bb:1', ['sleep', '300'])['Id']
api.start(cid)
def detach(keys, chunks, tty_start=True):
    eid = api.exec_create(cid, ['sh'], stdin=True, tty=True, detach_keys=keys)['Id']
    s = api.exec_start(eid, socket=True, tty=tty_start)
    sock_of(s).sendall(b'echo hi-$((6*7))\n')
    out, _ = read_until(s, lambda b: b'hi-42' in b)
    for c in chunks:
        sock_of(s).sendall(c); time.sleep(0.2)
    out, closed = read_until(s, timeout=5)
    i = api.exec_inspect(eid)
    if not tty_start: out = b''.join(p for _, p in frames(out))
    print(keys, closed, out.endswith(b'exec attach failed: error on attach stdin: read escape sequence\r\n'),
          i['Running'], i['DetachKeys'])
detach(None, [b'\x10', b'\x11'])
detach('ctrl-x,x', [b'\x10', b'\x11', b'\x18', b'x'])
detach(None, [b'\x10', b'\x11'], tty_start=False)
try:
    api.exec_create(cid, ['sh'], detach_keys='bogus')
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)
print(len(api.top(cid)['Processes']))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out,
            "None True True True \n"
            "ctrl-x,x True True True GHg=\n"
            "None True True True \n"
            "500 Invalid escape keys (bogus) provided\n"
            "4\n");
}

TEST_F(AttachTest, DockerCliDetachFromExecLeavesTheShellRunning) {
  // docker exec -it on a pty; ctrl-p ctrl-q: the CLI says "read escape sequence" and ends; the
  // shell goes on (its terminal got no EOF).
  ASSERT_EQ(d_->docker({"run", "-d", "--name", "c1", "bb:1", "sleep", "300"}).code, 0);
  auto r = d_->python(R"PY(
import os, pty, time, select, subprocess
pid, fd = pty.fork()
if pid == 0:
    os.execvp('docker', ['docker', '-H', os.environ['HOIST_HOST'], 'exec', '-it', 'c1', 'sh'])
out = b''
def pump(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r: return
        try: d = os.read(fd, 65536)
        except OSError: return
        if not d: return
        out += d
pump(2)
os.write(fd, b'echo hi-$((6*7))\r'); pump(1)
os.write(fd, b'\x10'); pump(0.3)
os.write(fd, b'\x11'); pump(0.3)
code = None
for _ in range(50):
    p, st = os.waitpid(pid, os.WNOHANG)
    if p: code = os.waitstatus_to_exitcode(st); break
    pump(0.1); time.sleep(0.1)
print(code, b'hi-42' in out, b'read escape sequence' in out)
time.sleep(1)  # a shell that was sent an EOF would be gone by now
ps = subprocess.run(['docker', '-H', os.environ['HOIST_HOST'], 'exec', 'c1', 'ps', '-o', 'args'],
                    capture_output=True, text=True).stdout
print(ps.split('\n').count('sh'))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "1 True True\n1\n");
}

TEST_F(AttachTest, ExecStartDecidesTheStreamFormat) {
  // A TTY exec started with Tty=false: its output in stdout frames; an exec without a TTY started
  // with Tty=true: stdout alone, raw.
  auto r = py(R"PY(
cid = api.create_container('bb:1', ['sleep', '300'])['Id']
api.start(cid)
cmd = ['sh', '-c', 'echo out; echo err >&2']
eid = api.exec_create(cid, cmd, tty=True)['Id']
print(api.exec_start(eid, tty=False, demux=True))
eid = api.exec_create(cid, cmd, tty=False)['Id']
print(api.exec_start(eid, tty=True))
eid = api.exec_create(cid, cmd, tty=False)['Id']
print(api.exec_start(eid, tty=False, demux=True))
)PY");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "(b'out\\r\\nerr\\r\\n', None)\nb'out\\n'\n(b'out\\n', b'err\\n')\n");
}
