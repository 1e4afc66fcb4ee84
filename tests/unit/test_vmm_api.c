/* The VMM's REST API without KVM: routing, bodies, state checks and the
 * Unix-socket server, over a fake VMM core (the vmm.h functions below,
 * which take the place of the real ones at link time). */
#include "unit.h"

#include "common/cleanup.h"
#include "vmm/api/api.h"
#include "vmm/api/http.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

/* ---- the fake VMM core ---- */

struct vmm
{
  struct vm_config cfg;
  bool started;
  int exit_status; /* -1 while running */
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

static struct
{
  int creates, starts, ctrl_alt_dels;
  uint32_t balloon_target, stats_interval;
} fake;

int vmm_create (const struct vm_config *cfg, struct vmm **out, berth_err *err)
{
  /* What the real core says of a file that is no kernel. */
  if (strstr (cfg->boot.kernel_image_path, "not-a-kernel"))
    return berth_fail (err, 0, "kernel %s: not a bzImage or ELF vmlinux", cfg->boot.kernel_image_path);
  struct vmm *vm = calloc (1, sizeof *vm);
  CHECK (vm != NULL);
  CHECK (vm_config_copy (&vm->cfg, cfg, err) == 0);
  vm->exit_status = -1;
  pthread_mutex_init (&vm->lock, NULL);
  pthread_cond_init (&vm->cond, NULL);
  fake.creates++;
  *out = vm;
  return 0;
}

int vmm_start (struct vmm *vm, berth_err *err)
{
  (void) err;
  vm->started = true;
  fake.starts++;
  return 0;
}

bool vmm_started (const struct vmm *vm)
{
  return vm->started;
}

int vmm_wait (struct vmm *vm)
{
  pthread_mutex_lock (&vm->lock);
  while (vm->exit_status < 0)
    pthread_cond_wait (&vm->cond, &vm->lock);
  int s = vm->exit_status;
  pthread_mutex_unlock (&vm->lock);
  return s;
}

int vmm_send_ctrl_alt_del (struct vmm *vm, berth_err *err)
{
  (void) err;
  fake.ctrl_alt_dels++;
  /* The guest reboots on it, and reboot ends the VMM. */
  pthread_mutex_lock (&vm->lock);
  vm->exit_status = VMM_EXIT_REBOOT;
  pthread_cond_broadcast (&vm->cond);
  pthread_mutex_unlock (&vm->lock);
  return 0;
}

int vmm_balloon_set_target (struct vmm *vm, uint32_t amount_mib, berth_err *err)
{
  (void) vm;
  (void) err;
  fake.balloon_target = amount_mib;
  return 0;
}

int vmm_balloon_set_stats_interval (struct vmm *vm, uint32_t seconds, berth_err *err)
{
  (void) vm;
  (void) err;
  fake.stats_interval = seconds;
  return 0;
}

int vmm_balloon_stats (struct vmm *vm, json_t **out, berth_err *err)
{
  (void) vm;
  (void) err;
  *out = json_pack ("{s:i,s:i}", "target_mib", (int) fake.balloon_target, "actual_mib", 0);
  return 0;
}

void vmm_destroy (struct vmm *vm)
{
  vm_config_free (&vm->cfg);
  free (vm);
}

/* ---- helpers ---- */

struct resp
{
  unsigned status;
  json_t *body;
};

static struct resp call (struct vmm_api *api, const char *method, const char *path, const char *body)
{
  struct resp r = { 0 };
  cleanup_free char *text = NULL;
  vmm_api_handle (api, method, path, body, body ? strlen (body) : 0, &r.status, &text);
  if (text)
    {
      r.body = json_loads (text, 0, NULL);
      CHECK (r.body != NULL);
    }
  return r;
}

static const char *fault (struct resp r)
{
  return json_string_value (json_object_get (r.body, "fault_message"));
}

#define CHECK_FAULT(r, needle)                     \
  do                                               \
    {                                              \
      struct resp r_ = (r);                        \
      if (r_.status != 400)                        \
        printf ("  status %u\n", r_.status);       \
      CHECK (r_.status == 400);                    \
      CHECK_CONTAINS (fault (r_), (needle));       \
    }                                              \
  while (0)

#define CHECK_STATUS(r, want)                                        \
  do                                                                 \
    {                                                                \
      struct resp r_ = (r);                                          \
      if (r_.status != (want))                                       \
        printf ("  status %u: %s\n", r_.status, r_.body ? json_dumps (r_.body, 0) : ""); \
      CHECK (r_.status == (want));                                   \
    }                                                                \
  while (0)

static char tmpdir[64];

static char *scratch (const char *name)
{
  if (tmpdir[0] == '\0')
    {
      snprintf (tmpdir, sizeof tmpdir, "/tmp/test_vmm_api.XXXXXX");
      CHECK (mkdtemp (tmpdir) != NULL);
    }
  char *p = NULL;
  CHECK (asprintf (&p, "%s/%s", tmpdir, name) > 0);
  return p;
}

static char *scratch_file (const char *name)
{
  char *p = scratch (name);
  int fd = open (p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  CHECK (fd >= 0 && write (fd, "x", 1) == 1);
  close (fd);
  return p;
}

static void put_kernel (struct vmm_api *api, const char *path)
{
  cleanup_free char *body = NULL;
  CHECK (asprintf (&body, "{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0\"}", path) > 0);
  CHECK_STATUS (call (api, "PUT", "/boot-source", body), 204);
}

/* ---- handler-level tests ---- */

TEST (instance_info_and_unknown_routes)
{
  struct vmm_api *api = vmm_api_new (NULL);
  struct resp r = call (api, "GET", "/", NULL);
  CHECK_STATUS (r, 200);
  CHECK_STR (json_string_value (json_object_get (r.body, "state")), "Not started");
  CHECK_STR (json_string_value (json_object_get (r.body, "app_name")), "berth-vmm");
  CHECK (json_is_string (json_object_get (r.body, "vmm_version")));
  CHECK (json_is_string (json_object_get (r.body, "id")));
  CHECK_FAULT (call (api, "GET", "/nope", NULL), "Invalid request method and/or path: GET /nope");
  CHECK_FAULT (call (api, "DELETE", "/boot-source", NULL), "Invalid request method and/or path");
  CHECK_FAULT (call (api, "PUT", "/drives/", "{}"), "Invalid request method and/or path");
  CHECK_FAULT (call (api, "PUT", "/drives/a/b", "{}"), "Invalid request method and/or path");
  vmm_api_free (api);
}

TEST (boot_source_boot_protocol)
{
  struct vmm_api *api = vmm_api_new (NULL);
  CHECK_STATUS (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"boot_protocol\":\"pvh\"}"), 204);
  struct resp r = call (api, "GET", "/vm/config", NULL);
  CHECK_STR (json_string_value (json_object_get (json_object_get (r.body, "boot-source"), "boot_protocol")), "pvh");
  json_decref (r.body);
  /* a bad value leaves the boot source as it was */
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/other\",\"boot_protocol\":\"Pvh\"}"),
               "boot_protocol: expected");
  r = call (api, "GET", "/vm/config", NULL);
  json_t *bs = json_object_get (r.body, "boot-source");
  CHECK_STR (json_string_value (json_object_get (bs, "kernel_image_path")), "/k");
  CHECK_STR (json_string_value (json_object_get (bs, "boot_protocol")), "pvh");
  json_decref (r.body);
  CHECK_STATUS (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"boot_protocol\":\"linux64\"}"), 204);
  r = call (api, "GET", "/vm/config", NULL);
  CHECK_STR (json_string_value (json_object_get (json_object_get (r.body, "boot-source"), "boot_protocol")),
             "linux64");
  json_decref (r.body);
  vmm_api_free (api);
}

TEST (bad_bodies)
{
  struct vmm_api *api = vmm_api_new (NULL);
  CHECK_FAULT (call (api, "PUT", "/boot-source", NULL), "body is empty");
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":"), "invalid JSON");
  CHECK_FAULT (call (api, "PUT", "/boot-source", "[1,2]"), "expected a JSON object");
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"kernel\":1}"), "kernel: unknown field");
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":5}"), "kernel_image_path: expected a string");
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"boot_protocol\":\"bios\"}"),
               "boot_protocol: expected \"auto\", \"linux64\" or \"pvh\"");
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"boot_protocol\":true}"),
               "boot_protocol: expected");
  CHECK_FAULT (call (api, "PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":128}"), "out of range");
  CHECK_FAULT (call (api, "PUT", "/machine-config", "{\"vcpu_count\":true,\"mem_size_mib\":128}"),
               "vcpu_count: expected an integer");
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"Explode\"}"), "unknown action");
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action\":\"InstanceStart\"}"), "action: unknown field");
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":1}"), "expected a string");
  CHECK_FAULT (call (api, "PUT", "/vsock", "{\"guest_cid\":1,\"uds_path\":\"/v\"}"), "guest_cid: 1 is out of range");
  CHECK_FAULT (call (api, "PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap0\"}"),
               "does not match the id from the body");
  CHECK_FAULT (call (api, "PATCH", "/drives/none", "{\"drive_id\":\"none\",\"path_on_host\":\"/x\"}"), "No drive");
  char big[VMM_API_MAX_BODY + 10];
  memset (big, ' ', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK_FAULT (call (api, "PUT", "/vsock", big), "larger than the limit");
  /* None of it changed the configuration. */
  struct resp r = call (api, "GET", "/vm/config", NULL);
  CHECK_STATUS (r, 200);
  CHECK (json_object_get (r.body, "boot-source") == NULL);
  CHECK (json_array_size (json_object_get (r.body, "network-interfaces")) == 0);
  CHECK (json_object_get (r.body, "vsock") == NULL);
  vmm_api_free (api);
}

TEST (configure_then_read_back)
{
  struct vmm_api *api = vmm_api_new (NULL);
  put_kernel (api, "/boot/vmlinux");
  CHECK_STATUS (call (api, "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}"), 204);
  CHECK_STATUS (call (api, "PATCH", "/machine-config", "{\"smt\":true}"), 204);
  struct resp m = call (api, "GET", "/machine-config", NULL);
  CHECK_STATUS (m, 200);
  CHECK (json_integer_value (json_object_get (m.body, "vcpu_count")) == 2);
  CHECK (json_integer_value (json_object_get (m.body, "mem_size_mib")) == 256);
  CHECK (json_is_true (json_object_get (m.body, "smt")));
  CHECK_STATUS (call (api, "PUT", "/drives/rootfs",
                      "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/a.img\",\"is_root_device\":true,\"is_read_only\":false}"),
                204);
  CHECK_STATUS (call (api, "PATCH", "/drives/rootfs/", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/b.img\"}"), 204);
  CHECK_STATUS (call (api, "PUT", "/network-interfaces/eth0",
                      "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:00:00:00:01\"}"),
                204);
  CHECK_STATUS (call (api, "PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\"}"), 204);
  CHECK_FAULT (call (api, "GET", "/balloon", NULL), "No balloon device configured");
  CHECK_STATUS (call (api, "PUT", "/balloon", "{\"amount_mib\":0,\"deflate_on_oom\":true,\"stats_polling_interval_s\":1}"),
                204);
  struct resp b = call (api, "GET", "/balloon", NULL);
  CHECK_STATUS (b, 200);
  CHECK (json_is_true (json_object_get (b.body, "deflate_on_oom")));
  struct resp c = call (api, "GET", "/vm/config?pretty", NULL);
  CHECK_STATUS (c, 200);
  CHECK_STR (json_string_value (json_object_get (json_object_get (c.body, "boot-source"), "kernel_image_path")),
             "/boot/vmlinux");
  CHECK (json_object_get (json_object_get (c.body, "boot-source"), "boot_protocol") == NULL); /* auto */
  json_t *d0 = json_array_get (json_object_get (c.body, "drives"), 0);
  CHECK_STR (json_string_value (json_object_get (d0, "path_on_host")), "/b.img");
  CHECK (json_is_true (json_object_get (d0, "is_root_device")));
  CHECK_STR (json_string_value (json_object_get (json_array_get (json_object_get (c.body, "network-interfaces"), 0),
                                                 "guest_mac")),
             "06:00:00:00:00:01");
  CHECK (json_integer_value (json_object_get (json_object_get (c.body, "vsock"), "guest_cid")) == 3);
  vmm_api_free (api);
}

TEST (runtime_calls_before_start)
{
  struct vmm_api *api = vmm_api_new (NULL);
  CHECK_STATUS (call (api, "PUT", "/balloon", "{\"amount_mib\":0,\"deflate_on_oom\":false}"), 204);
  CHECK_FAULT (call (api, "PATCH", "/balloon", "{\"amount_mib\":4}"), "not supported before starting the microVM");
  CHECK_FAULT (call (api, "GET", "/balloon/statistics", NULL), "not supported before starting the microVM");
  CHECK_FAULT (call (api, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":1}"),
               "not supported before starting");
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}"), "before starting the microVM");
  CHECK (fake.ctrl_alt_dels == 0);
  vmm_api_free (api);
}

TEST (instance_start_needs_a_good_kernel)
{
  struct vmm_api *api = vmm_api_new (NULL);
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), "no kernel configured");
  put_kernel (api, "/nonexistent/vmlinux");
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), "kernel /nonexistent/vmlinux");
  put_kernel (api, scratch_file ("not-a-kernel"));
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), "not a bzImage or ELF vmlinux");
  char *k = scratch_file ("vmlinux");
  put_kernel (api, k);
  CHECK_STATUS (call (api, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":4194304}"), 204);
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), "more than this host allows");
  CHECK (fake.creates == 0);
  struct resp r = call (api, "GET", "/", NULL);
  CHECK_STR (json_string_value (json_object_get (r.body, "state")), "Not started");
  vmm_api_free (api);
}

TEST (started_instance)
{
  struct vmm_api *api = vmm_api_new (NULL);
  put_kernel (api, scratch_file ("vmlinux"));
  CHECK_STATUS (call (api, "PUT", "/balloon", "{\"amount_mib\":0,\"deflate_on_oom\":true,\"stats_polling_interval_s\":2}"),
                204);
  CHECK_STATUS (call (api, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 204);
  CHECK (fake.creates == 1 && fake.starts == 1);
  uint64_t v;
  CHECK (read (vmm_api_started_fd (api), &v, sizeof v) == sizeof v);
  struct resp r = call (api, "GET", "/", NULL);
  CHECK_STR (json_string_value (json_object_get (r.body, "state")), "Running");

  /* Pre-boot resources are closed now. */
  CHECK_FAULT (call (api, "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\"}"),
               "not supported after starting the microVM");
  CHECK_FAULT (call (api, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128}"), "after starting");
  CHECK_FAULT (call (api, "PATCH", "/drives/x", "{\"drive_id\":\"x\"}"), "after starting");
  CHECK_FAULT (call (api, "PUT", "/balloon", "{\"amount_mib\":0,\"deflate_on_oom\":true}"), "after starting");
  CHECK_FAULT (call (api, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), "after starting");
  CHECK (fake.creates == 1);
  /* The wrong-state check comes before the body is even read. */
  CHECK_FAULT (call (api, "PUT", "/vsock", "not json"), "after starting");

  /* Runtime calls reach the core. */
  CHECK_STATUS (call (api, "PATCH", "/balloon", "{\"amount_mib\":32}"), 204);
  CHECK (fake.balloon_target == 32);
  CHECK_FAULT (call (api, "PATCH", "/balloon", "{\"amount_mib\":100000}"), "more than the guest's memory");
  CHECK_FAULT (call (api, "PATCH", "/balloon", "{\"amount_mib\":-1}"), "out of range");
  struct resp b = call (api, "GET", "/balloon", NULL);
  CHECK (json_integer_value (json_object_get (b.body, "amount_mib")) == 32);
  struct resp s = call (api, "GET", "/balloon/statistics", NULL);
  CHECK_STATUS (s, 200);
  CHECK (json_integer_value (json_object_get (s.body, "target_mib")) == 32);
  CHECK_STATUS (call (api, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":5}"), 204);
  CHECK (fake.stats_interval == 5);
  CHECK_FAULT (call (api, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":0}"), "Cannot enable or disable");
  CHECK_STATUS (call (api, "GET", "/machine-config", NULL), 200);

  CHECK_STATUS (call (api, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}"), 204);
  CHECK (fake.ctrl_alt_dels == 1);
  CHECK (vmm_api_wait (api) == VMM_EXIT_REBOOT);
  vmm_api_free (api);
}

TEST (initial_config_is_kept)
{
  struct vm_config c;
  vm_config_init (&c);
  c.boot.kernel_image_path = strdup ("/from/flags");
  c.machine.vcpu_count = 3;
  struct vmm_api *api = vmm_api_new (&c);
  vm_config_free (&c); /* the API has its own copy */
  struct resp m = call (api, "GET", "/machine-config", NULL);
  CHECK (json_integer_value (json_object_get (m.body, "vcpu_count")) == 3);
  struct resp v = call (api, "GET", "/vm/config", NULL);
  CHECK_STR (json_string_value (json_object_get (json_object_get (v.body, "boot-source"), "kernel_image_path")),
             "/from/flags");
  vmm_api_free (api);
}

/* ---- the server on a Unix socket ---- */

static int connect_to (const char *path)
{
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  snprintf (a.sun_path, sizeof a.sun_path, "%s", path);
  for (int i = 0; i < 500; i++)
    {
      int fd = socket (AF_UNIX, SOCK_STREAM, 0);
      if (connect (fd, (struct sockaddr *) &a, sizeof a) == 0)
        return fd;
      close (fd);
      usleep (10000);
    }
  return -1;
}

/* One HTTP/1.1 request; returns the status, *BODY the response body. */
static unsigned http (const char *sock, const char *method, const char *path, const char *body, char **out)
{
  int fd = connect_to (sock);
  CHECK (fd >= 0);
  cleanup_free char *req = NULL;
  size_t blen = body ? strlen (body) : 0;
  if (body == NULL)
    CHECK (asprintf (&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", method, path) > 0);
  else
    {
      CHECK (asprintf (&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n\r\n%s",
                       method, path, blen, body)
             > 0);
    }
  CHECK (write (fd, req, strlen (req)) == (ssize_t) strlen (req));
  char buf[65536];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read (fd, buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t) r;
  buf[n] = '\0';
  close (fd);
  unsigned status = 0;
  CHECK (sscanf (buf, "HTTP/1.1 %u", &status) == 1);
  const char *b = strstr (buf, "\r\n\r\n");
  if (out)
    *out = strdup (b ? b + 4 : "");
  return status;
}

static pid_t serve_in_child (const char *sock)
{
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      berth_err err = NULL;
      int status = -1;
      if (vmm_api_serve (sock, NULL, &status, &err) < 0)
        {
          printf ("  serve: %s\n", err->msg);
          _exit (100);
        }
      _exit (status);
    }
  return pid;
}

static int wait_exit (pid_t pid)
{
  int st;
  for (int i = 0; i < 500; i++)
    {
      if (waitpid (pid, &st, WNOHANG) == pid)
        return WIFEXITED (st) ? WEXITSTATUS (st) : 1000 + WTERMSIG (st);
      usleep (10000);
    }
  kill (pid, SIGKILL);
  waitpid (pid, &st, 0);
  return -1;
}

TEST (socket_server_end_to_end)
{
  char *sock = scratch ("api.sock");
  pid_t pid = serve_in_child (sock);
  char *body = NULL;
  CHECK (http (sock, "GET", "/", NULL, &body) == 200);
  CHECK_CONTAINS (body, "\"state\":\"Not started\"");
  struct stat st;
  CHECK (stat (sock, &st) == 0 && S_ISSOCK (st.st_mode));
  CHECK ((st.st_mode & 0077) == 0); /* owner only */
  CHECK (http (sock, "PUT", "/boot-source", "{\"kernel_image_path\":", &body) == 400);
  CHECK_CONTAINS (body, "\"fault_message\"");
  CHECK_CONTAINS (body, "invalid JSON");
  char big[VMM_API_MAX_BODY * 2];
  memset (big, ' ', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK (http (sock, "PUT", "/vsock", big, &body) == 400);
  CHECK_CONTAINS (body, "larger than the limit");
  cleanup_free char *kbody = NULL;
  CHECK (asprintf (&kbody, "{\"kernel_image_path\":\"%s\"}", scratch_file ("vmlinux")) > 0);
  CHECK (http (sock, "PUT", "/boot-source", kbody, &body) == 204);
  CHECK (http (sock, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", &body) == 400);
  CHECK (http (sock, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", &body) == 204);
  CHECK (http (sock, "GET", "/", NULL, &body) == 200);
  CHECK_CONTAINS (body, "\"state\":\"Running\"");
  /* The fake guest reboots on Ctrl-Alt-Del: the server returns its exit
   * status and removes the socket. */
  CHECK (http (sock, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", &body) == 204);
  CHECK (wait_exit (pid) == VMM_EXIT_REBOOT);
  CHECK (access (sock, F_OK) < 0 && errno == ENOENT);
}

TEST (sigterm_stops_an_idle_server)
{
  char *sock = scratch ("idle.sock");
  pid_t pid = serve_in_child (sock);
  CHECK (http (sock, "GET", "/machine-config", NULL, NULL) == 200);
  kill (pid, SIGTERM);
  CHECK (wait_exit (pid) == 0);
  CHECK (access (sock, F_OK) < 0);
}

TEST (socket_path_in_use)
{
  /* A live server's socket is not taken over. */
  char *sock = scratch ("live.sock");
  pid_t pid = serve_in_child (sock);
  CHECK (http (sock, "GET", "/", NULL, NULL) == 200);
  berth_err err = NULL;
  int status;
  CHECK (vmm_api_serve (sock, NULL, &status, &err) == -EADDRINUSE);
  berth_error_free (&err);
  kill (pid, SIGTERM);
  CHECK (wait_exit (pid) == 0);
  /* A regular file is not removed. */
  char *file = scratch_file ("file.sock");
  CHECK (vmm_api_serve (file, NULL, &status, &err) == -EEXIST);
  berth_error_free (&err);
  CHECK (access (file, F_OK) == 0);
  /* A stale socket (its server died) is replaced. */
  char *stale = scratch ("stale.sock");
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  snprintf (a.sun_path, sizeof a.sun_path, "%s", stale);
  CHECK (bind (fd, (struct sockaddr *) &a, sizeof a) == 0);
  close (fd);
  pid = serve_in_child (stale);
  CHECK (http (stale, "GET", "/", NULL, NULL) == 200);
  kill (pid, SIGTERM);
  CHECK (wait_exit (pid) == 0);
}

/* ---- the HTTP transport (http.c) ---- */

static enum api_http_parse_result parse (const char *text, struct api_http_request *req)
{
  return api_http_parse_head (text, strlen (text), req);
}

TEST (http_parse_heads)
{
  struct api_http_request req;
  CHECK (parse ("PUT /drives/rootfs HTTP/1.1\r\nHost: x\r\ncontent-length:  17 \r\n\r\n{...}", &req) == API_HTTP_HEAD_OK);
  CHECK_STR (req.method, "PUT");
  CHECK_STR (req.path, "/drives/rootfs");
  CHECK (req.content_length == 17);
  CHECK (req.keep_alive);
  CHECK (!req.expect_continue);
  CHECK (req.head_len == strlen ("PUT /drives/rootfs HTTP/1.1\r\nHost: x\r\ncontent-length:  17 \r\n\r\n"));
  CHECK (parse ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &req) == API_HTTP_HEAD_OK && !req.keep_alive);
  CHECK (parse ("GET / HTTP/1.0\r\n\r\n", &req) == API_HTTP_HEAD_OK && !req.keep_alive);
  CHECK (parse ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) == API_HTTP_HEAD_OK && req.keep_alive);
  CHECK (parse ("PUT /vsock HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3000\r\n\r\n", &req) == API_HTTP_HEAD_OK);
  CHECK (req.expect_continue && req.content_length == 3000);
  /* Not complete yet: more is needed, whatever was cut. */
  CHECK (parse ("GET / HTTP/1.1\r\nHost: x\r\n", &req) == API_HTTP_NEED_MORE);
  CHECK (parse ("GET", &req) == API_HTTP_NEED_MORE);
  CHECK (parse ("", &req) == API_HTTP_NEED_MORE);
}

TEST (http_parse_rejects_bad_heads)
{
  struct api_http_request req;
  const char *bad[] = {
    "get / HTTP/1.1\r\n\r\n",                                      /* method case */
    "GET  / HTTP/1.1\r\n\r\n",                                     /* empty path */
    "GET vm HTTP/1.1\r\n\r\n",                                     /* not absolute */
    "GET / HTTP/2.0\r\n\r\n",                                      /* version */
    "GET /\r\n\r\n",                                               /* no version */
    "GET / HTTP/1.1 extra\r\n\r\n",                                /* trailing words */
    "GET /a\x01 HTTP/1.1\r\n\r\n",                                 /* control byte */
    "VERYLONGMETHODNAMEX / HTTP/1.1\r\n\r\n",                      /* method length */
    "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",                /* negative */
    "PUT / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n",               /* not digits */
    "PUT / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", /* overflow */
    "PUT / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
    "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "PUT / HTTP/1.1\r\nExpect: something\r\n\r\n",
    "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    "GET / HTTP/1.1\r\n folded: header\r\n\r\n",
    "GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n",                         /* bare LF */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      if (parse (bad[i], &req) != API_HTTP_BAD)
        printf ("  accepted: %s\n", bad[i]);
      CHECK (parse (bad[i], &req) == API_HTTP_BAD);
      CHECK (req.error != NULL);
    }
  /* A head that never ends is refused once it passes the limit. */
  char big[API_HTTP_MAX_HEAD + 100];
  memset (big, 'a', sizeof big);
  memcpy (big, "GET / HTTP/1.1\r\nX: ", 19);
  CHECK (api_http_parse_head (big, sizeof big, &req) == API_HTTP_BAD);
  CHECK (api_http_parse_head (big, 100, &req) == API_HTTP_NEED_MORE);
}

/* Read from FD until N replies ("HTTP/1.1 " lines other than 100) are in
 * BUF, or EOF/timeout; returns the bytes read. */
static size_t read_replies (int fd, char *buf, size_t cap, int want)
{
  size_t n = 0;
  for (;;)
    {
      buf[n] = '\0';
      int seen = 0;
      for (const char *p = buf; (p = strstr (p, "HTTP/1.1 ")) != NULL; p += 9)
        if (strncmp (p + 9, "100", 3) != 0)
          seen++;
      if (seen >= want)
        {
          /* the last reply's body too */
          const char *last = buf, *p;
          for (p = buf; (p = strstr (p, "HTTP/1.1 ")) != NULL; p += 9)
            last = p;
          const char *cl = strstr (last, "Content-Length: ");
          const char *end = strstr (last, "\r\n\r\n");
          if (end && (cl == NULL || cl > end || (size_t) (buf + n - (end + 4)) >= strtoul (cl + 16, NULL, 10)))
            return n;
        }
      struct pollfd p = { .fd = fd, .events = POLLIN };
      if (n + 1 >= cap || poll (&p, 1, 5000) <= 0)
        return n;
      ssize_t r = read (fd, buf + n, cap - 1 - n);
      if (r <= 0)
        return n;
      n += (size_t) r;
    }
}

static bool closed_by_peer (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  char c;
  return poll (&p, 1, 5000) == 1 && read (fd, &c, 1) == 0;
}

TEST (http_keep_alive_pipelining_and_continue)
{
  char *sock = scratch ("http.sock");
  pid_t pid = serve_in_child (sock);
  char buf[16384];
  /* Two requests on one connection, one after the other. */
  int fd = connect_to (sock);
  const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK (write (fd, get, strlen (get)) == (ssize_t) strlen (get));
  read_replies (fd, buf, sizeof buf, 1);
  CHECK_CONTAINS (buf, "HTTP/1.1 200 OK");
  CHECK_CONTAINS (buf, "\"state\":\"Not started\"");
  CHECK (write (fd, get, strlen (get)) == (ssize_t) strlen (get));
  read_replies (fd, buf, sizeof buf, 1);
  CHECK_CONTAINS (buf, "HTTP/1.1 200 OK");
  /* Three pipelined in one write: three replies, in order. */
  const char *three = "GET /machine-config HTTP/1.1\r\n\r\n"
                      "PUT /machine-config HTTP/1.1\r\nContent-Length: 36\r\n\r\n{\"vcpu_count\":2,\"mem_size_mib\":77}\r\n"
                      "GET /machine-config HTTP/1.1\r\n\r\n";
  CHECK (write (fd, three, strlen (three)) == (ssize_t) strlen (three));
  read_replies (fd, buf, sizeof buf, 3);
  char *second = strstr (buf + 1, "HTTP/1.1 ");
  CHECK (second != NULL && strncmp (second, "HTTP/1.1 204", 12) == 0);
  char *third = second ? strstr (second + 1, "HTTP/1.1 ") : NULL;
  CHECK (third != NULL && strstr (third, "\"mem_size_mib\":77") != NULL);
  close (fd);
  /* Expect: 100-continue: the interim reply, then the body, then the answer. */
  fd = connect_to (sock);
  const char *head = "PUT /machine-config HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 34\r\n\r\n";
  CHECK (write (fd, head, strlen (head)) == (ssize_t) strlen (head));
  struct pollfd p = { .fd = fd, .events = POLLIN };
  CHECK (poll (&p, 1, 5000) == 1);
  ssize_t r = read (fd, buf, sizeof buf - 1);
  CHECK (r > 0);
  buf[r > 0 ? r : 0] = '\0';
  CHECK_STR (buf, "HTTP/1.1 100 Continue\r\n\r\n");
  const char *body = "{\"vcpu_count\":1,\"mem_size_mib\":64}";
  CHECK (write (fd, body, strlen (body)) == (ssize_t) strlen (body));
  read_replies (fd, buf, sizeof buf, 1);
  CHECK_CONTAINS (buf, "HTTP/1.1 204 No Content");
  close (fd);
  kill (pid, SIGTERM);
  CHECK (wait_exit (pid) == 0);
}

TEST (http_bad_requests_get_400_and_close)
{
  char *sock = scratch ("bad.sock");
  pid_t pid = serve_in_child (sock);
  char buf[16384];
  const char *bad[] = {
    "BLAH\r\n\r\n",
    "PUT /vsock HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      int fd = connect_to (sock);
      CHECK (write (fd, bad[i], strlen (bad[i])) == (ssize_t) strlen (bad[i]));
      read_replies (fd, buf, sizeof buf, 1);
      CHECK_CONTAINS (buf, "HTTP/1.1 400 Bad Request");
      CHECK_CONTAINS (buf, "\"fault_message\"");
      CHECK_CONTAINS (buf, "Connection: close");
      CHECK (closed_by_peer (fd));
      close (fd);
    }
  /* A client that goes away mid-body, and more clients than the server
   * serves at once: the server stays up and answers the next one. */
  int fd = connect_to (sock);
  const char *half = "PUT /machine-config HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"vcpu";
  CHECK (write (fd, half, strlen (half)) == (ssize_t) strlen (half));
  close (fd);
  int many[API_HTTP_MAX_CONNS + 4];
  for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
    many[i] = connect_to (sock);
  for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
    close (many[i]);
  char *out = NULL;
  CHECK (http (sock, "GET", "/", NULL, &out) == 200);
  free (out);
  kill (pid, SIGTERM);
  CHECK (wait_exit (pid) == 0);
}
