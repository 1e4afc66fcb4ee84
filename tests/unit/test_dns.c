/* The embedded DNS server (src/net/dns.c, dns-wire.c).
 *
 * Every test runs in its own forked child; the network tests first move
 * that child into a private mount and network namespace, whose loopback
 * plays the host (berthd's side: the forwarder and a fake upstream
 * resolver on 127.0.0.1:53), and make sandboxes as namespaces bind-mounted
 * under a private tmpfs.  No packet leaves namespaces the test made. */
#include "unit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "net/dns-internal.h"
#include "common/log.h"
#include "net/net.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define SB1 "/tmp/sb1"
#define SB2 "/tmp/sb2"
#define RESOLV "/tmp/resolv.conf"

/* ------------------------------------------------------------ helpers */

static long elapsed_ms (const struct timespec *t0)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void lo_up (void)
{
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK (s >= 0);
  struct ifreq ifr = { 0 };
  strcpy (ifr.ifr_name, "lo");
  CHECK (ioctl (s, SIOCGIFFLAGS, &ifr) == 0);
  ifr.ifr_flags |= IFF_UP;
  CHECK (ioctl (s, SIOCSIFFLAGS, &ifr) == 0);
  close (s);
}

/* This test's own "host": private mounts (a tmpfs on /tmp) and network. */
static void private_host (void)
{
  CHECK (unshare (CLONE_NEWNS | CLONE_NEWNET) == 0);
  CHECK (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
  CHECK (mount ("tmpfs", "/tmp", "tmpfs", 0, "size=16m") == 0);
  lo_up ();
}

static void *sandbox_thread (void *arg)
{
  const char *path = arg;
  if (unshare (CLONE_NEWNET) < 0)
    return "unshare";
  lo_up ();
  int fd = open (path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    return "create";
  close (fd);
  if (mount ("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0)
    return "bind mount";
  return NULL;
}

/* A network namespace with lo up, bind-mounted at PATH: what
 * net_sandbox_create makes (not used here: it is another file's work). */
static void make_sandbox (const char *path)
{
  pthread_t t;
  void *why = NULL;
  CHECK (pthread_create (&t, NULL, sandbox_thread, (void *) path) == 0);
  pthread_join (t, &why);
  if (why)
    printf ("  make_sandbox %s: %s: %s\n", path, (char *) why, strerror (errno));
  CHECK (why == NULL);
}

static void write_file (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");
  CHECK (f != NULL);
  fputs (text, f);
  fclose (f);
}

static uint8_t *query_wire (const char *name, ldns_rr_type type, uint16_t id, size_t *len)
{
  ldns_pkt *q = ldns_pkt_query_new (ldns_dname_new_frm_str (name), type, LDNS_RR_CLASS_IN, LDNS_RD);
  CHECK (q != NULL);
  ldns_pkt_set_id (q, id);
  uint8_t *wire = NULL;
  CHECK (ldns_pkt2wire (&wire, q, len) == LDNS_STATUS_OK);
  ldns_pkt_free (q);
  return wire;
}

/* ------------------------------------------------- a client in a sandbox */

struct ask
{
  const char *netns;
  bool tcp;
  const uint8_t *query;
  size_t query_len;
  int timeout_ms;
  uint8_t reply[65536];
  ssize_t reply_len;
  int err; /* errno of the failed step: ECONNREFUSED, ETIMEDOUT... */
};

static int wait_readable (int fd, int timeout_ms)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int r = poll (&p, 1, timeout_ms);
  return r > 0 ? 0 : r == 0 ? ETIMEDOUT : errno;
}

static int read_exact (int fd, uint8_t *buf, size_t len, int timeout_ms)
{
  size_t got = 0;
  while (got < len)
    {
      int e = wait_readable (fd, timeout_ms);
      if (e)
        return e;
      ssize_t n = recv (fd, buf + got, len - got, 0);
      if (n < 0)
        return errno;
      if (n == 0)
        return ECONNRESET;
      got += (size_t) n;
    }
  return 0;
}

static int ask_udp (struct ask *a, int fd)
{
  if (send (fd, a->query, a->query_len, 0) < 0)
    return errno;
  int e = wait_readable (fd, a->timeout_ms);
  if (e)
    return e;
  a->reply_len = recv (fd, a->reply, sizeof a->reply, 0);
  return a->reply_len < 0 ? errno : 0;
}

static int ask_tcp (struct ask *a, int fd)
{
  uint8_t len[2] = { (uint8_t) (a->query_len >> 8), (uint8_t) a->query_len };
  if (send (fd, len, 2, MSG_NOSIGNAL) != 2 || send (fd, a->query, a->query_len, MSG_NOSIGNAL) < 0)
    return errno;
  int e = read_exact (fd, len, 2, a->timeout_ms);
  if (e)
    return e;
  a->reply_len = len[0] << 8 | len[1];
  return read_exact (fd, a->reply, (size_t) a->reply_len, a->timeout_ms);
}

static void *ask_thread (void *arg)
{
  struct ask *a = arg;
  int ns = open (a->netns, O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns (ns, CLONE_NEWNET) < 0)
    {
      a->err = errno;
      return NULL;
    }
  close (ns);
  int fd = socket (AF_INET, (a->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (53) };
  inet_pton (AF_INET, "127.0.0.11", &sa.sin_addr);
  /* Connected UDP too: a closed port then shows as ECONNREFUSED. */
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    a->err = errno;
  else
    a->err = a->tcp ? ask_tcp (a, fd) : ask_udp (a, fd);
  close (fd);
  return NULL;
}

/* Send QUERY to 127.0.0.11:53 from inside NETNS; the answer, parsed, or
 * NULL with *ERR set. */
static ldns_pkt *ask (const char *netns, bool tcp, const uint8_t *query, size_t len, int timeout_ms, int *err)
{
  struct ask *a = calloc (1, sizeof *a);
  CHECK (a != NULL);
  *a = (struct ask){ .netns = netns, .tcp = tcp, .query = query, .query_len = len, .timeout_ms = timeout_ms };
  pthread_t t;
  CHECK (pthread_create (&t, NULL, ask_thread, a) == 0);
  pthread_join (t, NULL);
  ldns_pkt *p = NULL;
  if (a->err == 0 && ldns_wire2pkt (&p, a->reply, (size_t) a->reply_len) != LDNS_STATUS_OK)
    a->err = EBADMSG;
  if (err)
    *err = a->err;
  free (a);
  return p;
}

static ldns_pkt *ask_name (const char *netns, bool tcp, const char *name, ldns_rr_type type, uint16_t id)
{
  size_t len;
  uint8_t *q = query_wire (name, type, id, &len);
  int err = 0;
  ldns_pkt *p = ask (netns, tcp, q, len, 5000, &err);
  free (q);
  if (p == NULL)
    printf ("  no answer for %s over %s: %s\n", name, tcp ? "TCP" : "UDP", strerror (err));
  CHECK (p != NULL);
  CHECK (ldns_pkt_id (p) == id);
  CHECK (ldns_pkt_qr (p));
  return p;
}

/* The addresses of the A records in P's answer, as "a,b" in their order. */
static char *answer_addrs (const ldns_pkt *p)
{
  static char buf[512];
  buf[0] = '\0';
  ldns_rr_list *ans = ldns_pkt_answer (p);
  for (size_t i = 0; i < ldns_rr_list_rr_count (ans); i++)
    {
      ldns_rr *rr = ldns_rr_list_rr (ans, i);
      CHECK (ldns_rr_get_type (rr) == LDNS_RR_TYPE_A);
      char *s = ldns_rdf2str (ldns_rr_rdf (rr, 0));
      if (buf[0])
        strcat (buf, ",");
      strcat (buf, s);
      free (s);
    }
  return buf;
}

/* ------------------------------------------------- berthd's records */

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_name[256], seen_key[64];

static int test_lookup (void *ctx, const char *key, const char *name, struct in_addr *out, int max)
{
  CHECK (strcmp (ctx, "records") == 0);
  pthread_mutex_lock (&seen_lock);
  snprintf (seen_name, sizeof seen_name, "%s", name);
  snprintf (seen_key, sizeof seen_key, "%s", key);
  pthread_mutex_unlock (&seen_lock);
  if (strcmp (key, "ct1") != 0)
    return 0;
  if (strcmp (name, "web") == 0 || strcmp (name, "web.net1") == 0)
    return inet_pton (AF_INET, "10.0.0.2", &out[0]);
  if (strcmp (name, "db") == 0 && max >= 2)
    {
      inet_pton (AF_INET, "10.0.0.3", &out[0]);
      inet_pton (AF_INET, "10.0.0.4", &out[1]);
      return 2;
    }
  if (strcmp (name, "many") == 0)
    {
      for (int i = 0; i < max; i++)
        out[i].s_addr = htonl (0x0a010000 + (uint32_t) i);
      return max;
    }
  return 0;
}

static int test_reverse (void *ctx, const char *key, struct in_addr a, char *buf, size_t size)
{
  if (strcmp (key, "ct1") != 0 || a.s_addr != inet_addr ("10.0.0.2"))
    return -1;
  snprintf (buf, size, "web.net1");
  return 0;
}

static void last_lookup (char *name, char *key)
{
  pthread_mutex_lock (&seen_lock);
  strcpy (name, seen_name);
  strcpy (key, seen_key);
  pthread_mutex_unlock (&seen_lock);
}

static struct net_dns *start_server (const char *resolv_conf)
{
  write_file (RESOLV, resolv_conf);
  net_dns_set_resolv_conf (RESOLV);
  /* Quiet: the warning about an empty resolv.conf is expected here. */
  berth_log_set_level (BERTH_LOG_ERROR);
  struct net_dns *dns = NULL;
  berth_err err = NULL;
  int r = net_dns_start (test_lookup, test_reverse, "records", &dns, &err);
  if (r < 0)
    printf ("  net_dns_start: %s\n", err->msg);
  CHECK (r == 0 && dns != NULL);
  return dns;
}

static void add_sandbox (struct net_dns *dns, const char *key, const char *path)
{
  berth_err err = NULL;
  int r = net_dns_add_sandbox (dns, key, path, &err);
  if (r < 0)
    printf ("  net_dns_add_sandbox: %s\n", err->msg);
  CHECK (r == 0);
}

/* ---------------------------------------------- a fake upstream resolver */

struct upstream
{
  int udp, tcp;          /* bound on 127.0.0.1:53 of the test's host */
  int stop[2];
  pthread_t thread;
  int udp_queries, tcp_queries;
  uint16_t last_id;       /* of the last query, set before it is answered */
};

/* Every A query is answered 198.51.100.7, TTL 30. */
static size_t upstream_answer (struct upstream *u, const uint8_t *q, size_t len, uint8_t **out)
{
  ldns_pkt *p = NULL;
  if (ldns_wire2pkt (&p, q, len) != LDNS_STATUS_OK)
    return 0;
  u->last_id = ldns_pkt_id (p);
  ldns_pkt_set_qr (p, true);
  ldns_pkt_set_ra (p, true);
  ldns_rr *rr = NULL;
  char text[300];
  char *owner = ldns_rdf2str (ldns_rr_owner (ldns_rr_list_rr (ldns_pkt_question (p), 0)));
  snprintf (text, sizeof text, "%s 30 IN A 198.51.100.7", owner);
  free (owner);
  CHECK (ldns_rr_new_frm_str (&rr, text, 0, NULL, NULL) == LDNS_STATUS_OK);
  ldns_pkt_push_rr (p, LDNS_SECTION_ANSWER, rr);
  size_t n = 0;
  CHECK (ldns_pkt2wire (out, p, &n) == LDNS_STATUS_OK);
  ldns_pkt_free (p);
  return n;
}

static void upstream_serve_tcp (struct upstream *u)
{
  int c = accept4 (u->tcp, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0)
    return;
  uint8_t len[2], q[65536];
  if (read_exact (c, len, 2, 2000) == 0 && read_exact (c, q, (size_t) (len[0] << 8 | len[1]), 2000) == 0)
    {
      uint8_t *a = NULL;
      size_t n = upstream_answer (u, q, (size_t) (len[0] << 8 | len[1]), &a);
      uint8_t alen[2] = { (uint8_t) (n >> 8), (uint8_t) n };
      __atomic_add_fetch (&u->tcp_queries, 1, __ATOMIC_SEQ_CST);
      send (c, alen, 2, MSG_NOSIGNAL);
      send (c, a, n, MSG_NOSIGNAL);
      free (a);
    }
  close (c);
}

static void *upstream_loop (void *arg)
{
  struct upstream *u = arg;
  for (;;)
    {
      struct pollfd p[3] = { { u->udp, POLLIN, 0 }, { u->tcp, POLLIN, 0 }, { u->stop[0], POLLIN, 0 } };
      poll (p, 3, -1);
      if (p[2].revents)
        return NULL;
      if (p[0].revents)
        {
          uint8_t q[65536];
          struct sockaddr_storage from;
          socklen_t fl = sizeof from;
          ssize_t n = recvfrom (u->udp, q, sizeof q, 0, (struct sockaddr *) &from, &fl);
          uint8_t *a = NULL;
          size_t alen = n > 0 ? upstream_answer (u, q, (size_t) n, &a) : 0;
          /* Counted before answering: the test reads it once answered. */
          __atomic_add_fetch (&u->udp_queries, 1, __ATOMIC_SEQ_CST);
          if (alen)
            sendto (u->udp, a, alen, 0, (struct sockaddr *) &from, fl);
          free (a);
        }
      if (p[1].revents)
        upstream_serve_tcp (u);
    }
}

static int bind_socket (int type, const char *ip)
{
  int fd = socket (AF_INET, type | SOCK_CLOEXEC, 0);
  CHECK (fd >= 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (53) };
  inet_pton (AF_INET, ip, &sa.sin_addr);
  CHECK (bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0);
  if (type == SOCK_STREAM)
    CHECK (listen (fd, 8) == 0);
  return fd;
}

static struct upstream *upstream_start (void)
{
  struct upstream *u = calloc (1, sizeof *u);
  CHECK (u != NULL);
  u->udp = bind_socket (SOCK_DGRAM, "127.0.0.1");
  u->tcp = bind_socket (SOCK_STREAM, "127.0.0.1");
  CHECK (pipe2 (u->stop, O_CLOEXEC) == 0);
  CHECK (pthread_create (&u->thread, NULL, upstream_loop, u) == 0);
  return u;
}

static void upstream_stop (struct upstream *u)
{
  CHECK (write (u->stop[1], "x", 1) == 1);
  pthread_join (u->thread, NULL);
  close (u->udp);
  close (u->tcp);
  close (u->stop[0]);
  close (u->stop[1]);
  free (u);
}

/* --------------------------------------------------- message handling */

TEST (reverse_names)
{
  struct in_addr a;
  CHECK (dns_parse_reverse_name ("2.0.0.10.in-addr.arpa", &a));
  CHECK (a.s_addr == inet_addr ("10.0.0.2"));
  CHECK (dns_parse_reverse_name ("255.1.168.192.in-addr.arpa", &a));
  CHECK (a.s_addr == inet_addr ("192.168.1.255"));
  CHECK (!dns_parse_reverse_name ("0.0.10.in-addr.arpa", &a));
  CHECK (!dns_parse_reverse_name ("256.0.0.10.in-addr.arpa", &a));
  CHECK (!dns_parse_reverse_name ("1.2.0.0.10.in-addr.arpa", &a));
  CHECK (!dns_parse_reverse_name ("a.0.0.10.in-addr.arpa", &a));
  CHECK (!dns_parse_reverse_name ("1.0.0.10.in-addr.arpa.example", &a));
  CHECK (!dns_parse_reverse_name ("1000.0.0.10.in-addr.arpa", &a));
  CHECK (!dns_parse_reverse_name ("", &a));
}

TEST (resolv_conf)
{
  char path[] = "/tmp/berth-dns-resolv-XXXXXX";
  int fd = mkstemp (path);
  CHECK (fd >= 0);
  close (fd);
  write_file (path, "# comment\nsearch example.com\nnameserver 127.0.0.53\n"
                    "nameserver   192.0.2.1 # trailing\nnameserver not-an-ip\noptions ndots:2\n"
                    "nameserver 2001:db8::1\nnameserver 192.0.2.9\n");
  struct dns_resolver r[DNS_MAX_RESOLVERS];
  int n = dns_read_resolv_conf (path, r, DNS_MAX_RESOLVERS);
  unlink (path);
  CHECK (n == 3);
  /* Host-local resolvers are kept: the forwarder runs in the host's
   * namespace, where they are reachable. */
  CHECK (r[0].addr.ss_family == AF_INET);
  CHECK (((struct sockaddr_in *) &r[0].addr)->sin_addr.s_addr == inet_addr ("127.0.0.53"));
  CHECK (((struct sockaddr_in *) &r[0].addr)->sin_port == htons (53));
  CHECK (((struct sockaddr_in *) &r[1].addr)->sin_addr.s_addr == inet_addr ("192.0.2.1"));
  CHECK (r[2].addr.ss_family == AF_INET6);
  CHECK (((struct sockaddr_in6 *) &r[2].addr)->sin6_port == htons (53));
  CHECK (dns_read_resolv_conf ("/nonexistent/resolv.conf", r, DNS_MAX_RESOLVERS) == 0);
}

static enum dns_verdict handle (const uint8_t *wire, size_t len, ldns_pkt **reply)
{
  struct dns_callbacks cb = { test_lookup, test_reverse, "records" };
  uint8_t *out = NULL;
  size_t out_len = 0;
  enum dns_verdict v = dns_handle_query (&cb, "ct1", wire, len, DNS_UDP_MAX, &out, &out_len);
  *reply = NULL;
  if (v == DNS_REPLY)
    {
      CHECK (out != NULL && out_len <= DNS_UDP_MAX);
      CHECK (ldns_wire2pkt (reply, out, out_len) == LDNS_STATUS_OK);
    }
  free (out);
  return v;
}

TEST (malformed_queries)
{
  ldns_pkt *r;
  /* Shorter than a header: nothing to answer to. */
  static const uint8_t short_header[5] = { 0x12, 0x34, 0x01, 0x00, 0x00 };
  CHECK (handle (short_header, sizeof short_header, &r) == DNS_DROP);
  /* A response (QR set) is never answered: no loops between servers. */
  size_t len;
  uint8_t *q = query_wire ("web.", LDNS_RR_TYPE_A, 7, &len);
  q[2] |= 0x80;
  CHECK (handle (q, len, &r) == DNS_DROP);
  free (q);
  /* A name that is a compression pointer to itself. */
  static const uint8_t loop[] = { 0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
  CHECK (handle (loop, sizeof loop, &r) == DNS_REPLY);
  CHECK (ldns_pkt_id (r) == 0xabcd && ldns_pkt_get_rcode (r) == LDNS_RCODE_FORMERR);
  ldns_pkt_free (r);
  /* Counts far beyond what the message holds. */
  static const uint8_t huge[] = { 0x00, 0x01, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  3, 'w', 'e', 'b', 0, 0, 1, 0, 1 };
  CHECK (handle (huge, sizeof huge, &r) == DNS_REPLY);
  CHECK (ldns_pkt_id (r) == 1 && ldns_pkt_get_rcode (r) == LDNS_RCODE_FORMERR);
  ldns_pkt_free (r);
  /* Two questions. */
  static const uint8_t two[] = { 0x00, 0x02, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, 3, 'w', 'e', 'b', 0, 0, 1, 0, 1,
                                 3, 'w', 'e', 'b', 0, 0, 1, 0, 1 };
  CHECK (handle (two, sizeof two, &r) == DNS_REPLY);
  CHECK (ldns_pkt_get_rcode (r) == LDNS_RCODE_FORMERR);
  ldns_pkt_free (r);
  /* A label running past the end. */
  static const uint8_t past_end[] = { 0x00, 0x03, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 60, 'w', 'e', 'b' };
  CHECK (handle (past_end, sizeof past_end, &r) == DNS_REPLY);
  CHECK (ldns_pkt_get_rcode (r) == LDNS_RCODE_FORMERR);
  ldns_pkt_free (r);
  /* Random bytes after a valid header: whatever comes out, no crash (and
   * ASan/UBSan watch every read). */
  uint8_t buf[600];
  for (int i = 0; i < 20000; i++)
    {
      size_t n = 12 + arc4random_uniform (sizeof buf - 12);
      arc4random_buf (buf, n);
      buf[2] &= 0x7f;
      if (handle (buf, n, &r) == DNS_REPLY)
        {
          CHECK (ldns_pkt_id (r) == dns_wire_id (buf));
          ldns_pkt_free (r);
        }
    }
}

TEST (answers_in_process)
{
  ldns_pkt *r;
  size_t len;
  uint8_t *q = query_wire ("Web.", LDNS_RR_TYPE_A, 9, &len);
  CHECK (handle (q, len, &r) == DNS_REPLY);
  free (q);
  char name[256], key[64];
  last_lookup (name, key);
  CHECK_STR (name, "web");
  CHECK_STR (key, "ct1");
  CHECK (ldns_pkt_aa (r) && ldns_pkt_rd (r) && ldns_pkt_get_rcode (r) == LDNS_RCODE_NOERROR);
  CHECK_STR (answer_addrs (r), "10.0.0.2");
  CHECK (ldns_rr_ttl (ldns_rr_list_rr (ldns_pkt_answer (r), 0)) == 600);
  ldns_pkt_free (r);
  /* More addresses than fit 512 bytes: cut, TC set, so the client asks
   * again over TCP. */
  q = query_wire ("many.", LDNS_RR_TYPE_A, 10, &len);
  CHECK (handle (q, len, &r) == DNS_REPLY);
  CHECK (ldns_pkt_tc (r) && ldns_pkt_ancount (r) > 0 && ldns_pkt_ancount (r) < DNS_MAX_ADDRS);
  ldns_pkt_free (r);
  struct dns_callbacks cb = { test_lookup, test_reverse, "records" };
  uint8_t *out = NULL;
  size_t out_len;
  CHECK (dns_handle_query (&cb, "ct1", q, len, DNS_TCP_MAX, &out, &out_len) == DNS_REPLY);
  CHECK (ldns_wire2pkt (&r, out, out_len) == LDNS_STATUS_OK);
  CHECK (!ldns_pkt_tc (r) && ldns_pkt_ancount (r) == DNS_MAX_ADDRS);
  ldns_pkt_free (r);
  free (out);
  free (q);
  /* Not ours: forward.  MX of a known name: the upstream's business too. */
  q = query_wire ("example.org.", LDNS_RR_TYPE_A, 11, &len);
  CHECK (handle (q, len, &r) == DNS_FORWARD);
  free (q);
  q = query_wire ("web.", LDNS_RR_TYPE_MX, 12, &len);
  CHECK (handle (q, len, &r) == DNS_FORWARD);
  free (q);
  q = query_wire ("9.9.9.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, 13, &len);
  CHECK (handle (q, len, &r) == DNS_FORWARD);
  free (q);
  /* SERVFAIL keeps ID and question. */
  q = query_wire ("example.org.", LDNS_RR_TYPE_A, 14, &len);
  CHECK (dns_servfail (q, len, &out, &out_len));
  CHECK (ldns_wire2pkt (&r, out, out_len) == LDNS_STATUS_OK);
  CHECK (ldns_pkt_id (r) == 14 && ldns_pkt_get_rcode (r) == LDNS_RCODE_SERVFAIL && ldns_pkt_qdcount (r) == 1);
  ldns_pkt_free (r);
  free (out);
  free (q);
}

/* ------------------------------------------------------- over the wire */

TEST (answers_over_udp_and_tcp)
{
  private_host ();
  make_sandbox (SB1);
  struct net_dns *dns = start_server ("");
  add_sandbox (dns, "ct1", SB1);
  for (int tcp = 0; tcp <= 1; tcp++)
    {
      ldns_pkt *p = ask_name (SB1, tcp, "WEB.", LDNS_RR_TYPE_A, 0x1111);
      CHECK (ldns_pkt_aa (p) && ldns_pkt_get_rcode (p) == LDNS_RCODE_NOERROR);
      CHECK_STR (answer_addrs (p), "10.0.0.2");
      ldns_pkt_free (p);
      char name[256], key[64];
      last_lookup (name, key);
      CHECK_STR (name, "web");
      CHECK_STR (key, "ct1");

      p = ask_name (SB1, tcp, "db.", LDNS_RR_TYPE_A, 0x2222);
      const char *addrs = answer_addrs (p);
      CHECK (strcmp (addrs, "10.0.0.3,10.0.0.4") == 0 || strcmp (addrs, "10.0.0.4,10.0.0.3") == 0);
      ldns_pkt_free (p);

      p = ask_name (SB1, tcp, "web.net1.", LDNS_RR_TYPE_AAAA, 0x3333);
      CHECK (ldns_pkt_get_rcode (p) == LDNS_RCODE_NOERROR && ldns_pkt_ancount (p) == 0);
      ldns_pkt_free (p);

      p = ask_name (SB1, tcp, "2.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, 0x4444);
      CHECK (ldns_pkt_ancount (p) == 1);
      ldns_rr *rr = ldns_rr_list_rr (ldns_pkt_answer (p), 0);
      CHECK (ldns_rr_get_type (rr) == LDNS_RR_TYPE_PTR);
      char *target = ldns_rdf2str (ldns_rr_rdf (rr, 0));
      CHECK_STR (target, "web.net1.");
      free (target);
      ldns_pkt_free (p);

      /* No resolvers: names of the outside world get SERVFAIL. */
      p = ask_name (SB1, tcp, "example.org.", LDNS_RR_TYPE_A, 0x5555);
      CHECK (ldns_pkt_get_rcode (p) == LDNS_RCODE_SERVFAIL);
      ldns_pkt_free (p);
    }
  net_dns_stop (dns);
}

TEST (sandboxes_see_their_own_records)
{
  private_host ();
  make_sandbox (SB1);
  make_sandbox (SB2);
  struct net_dns *dns = start_server ("");
  add_sandbox (dns, "ct1", SB1);
  add_sandbox (dns, "ct2", SB2);
  ldns_pkt *p = ask_name (SB2, false, "web.", LDNS_RR_TYPE_A, 1);
  char name[256], key[64];
  last_lookup (name, key);
  CHECK_STR (key, "ct2");
  CHECK (ldns_pkt_get_rcode (p) == LDNS_RCODE_SERVFAIL && ldns_pkt_ancount (p) == 0);
  ldns_pkt_free (p);
  p = ask_name (SB1, false, "web.", LDNS_RR_TYPE_A, 2);
  CHECK_STR (answer_addrs (p), "10.0.0.2");
  ldns_pkt_free (p);
  net_dns_stop (dns);
}

TEST (forwards_to_upstream)
{
  private_host ();
  make_sandbox (SB1);
  struct upstream *u = upstream_start ();
  /* The first resolver has nothing listening: refused, the next is tried. */
  struct net_dns *dns = start_server ("nameserver 127.0.0.2\nnameserver 127.0.0.1\n");
  add_sandbox (dns, "ct1", SB1);
  ldns_pkt *p = ask_name (SB1, false, "example.org.", LDNS_RR_TYPE_A, 0x1234);
  CHECK (ldns_pkt_get_rcode (p) == LDNS_RCODE_NOERROR);
  CHECK_STR (answer_addrs (p), "198.51.100.7");
  ldns_pkt_free (p);
  CHECK (__atomic_load_n (&u->udp_queries, __ATOMIC_SEQ_CST) == 1);
  uint16_t first_upstream_id = u->last_id;
  /* The upstream sees random IDs (the client gets its own back, checked
   * by ask_name): two in a row both equal to the client's own would be a
   * one in four billion chance. */
  p = ask_name (SB1, false, "example.org.", LDNS_RR_TYPE_A, 0x1234);
  ldns_pkt_free (p);
  CHECK (first_upstream_id != 0x1234 || u->last_id != 0x1234);
  CHECK (__atomic_load_n (&u->udp_queries, __ATOMIC_SEQ_CST) == 2);
  /* TCP queries go upstream over TCP. */
  p = ask_name (SB1, true, "example.net.", LDNS_RR_TYPE_A, 0x4321);
  CHECK_STR (answer_addrs (p), "198.51.100.7");
  ldns_pkt_free (p);
  CHECK (__atomic_load_n (&u->tcp_queries, __ATOMIC_SEQ_CST) == 1);
  /* Other types of a known name are forwarded as well. */
  p = ask_name (SB1, false, "web.", LDNS_RR_TYPE_MX, 0x7777);
  ldns_pkt_free (p);
  CHECK (__atomic_load_n (&u->udp_queries, __ATOMIC_SEQ_CST) == 3);
  net_dns_stop (dns);
  upstream_stop (u);
}

TEST (upstream_down_servfail)
{
  private_host ();
  make_sandbox (SB1);
  /* A resolver that takes queries and never answers. */
  int silent = bind_socket (SOCK_DGRAM, "127.0.0.1");
  struct net_dns *dns = start_server ("nameserver 127.0.0.1\n");
  add_sandbox (dns, "ct1", SB1);
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  ldns_pkt *p = ask_name (SB1, false, "example.org.", LDNS_RR_TYPE_A, 0x0bad);
  long ms = elapsed_ms (&t0);
  CHECK (ldns_pkt_get_rcode (p) == LDNS_RCODE_SERVFAIL);
  ldns_pkt_free (p);
  printf ("  SERVFAIL after %ld ms\n", ms);
  CHECK (ms >= 1500 && ms < 4000);
  /* Over TCP nothing listens: refused at once. */
  clock_gettime (CLOCK_MONOTONIC, &t0);
  p = ask_name (SB1, true, "example.org.", LDNS_RR_TYPE_A, 0x0bae);
  CHECK (ldns_pkt_get_rcode (p) == LDNS_RCODE_SERVFAIL);
  ldns_pkt_free (p);
  CHECK (elapsed_ms (&t0) < 1000);
  net_dns_stop (dns);
  close (silent);
}

static void send_raw_udp_and_tcp (const uint8_t *msg, size_t len)
{
  int err;
  ldns_pkt *p = ask (SB1, false, msg, len, 20, &err);
  ldns_pkt_free (p);
  p = ask (SB1, true, msg, len, 20, &err);
  ldns_pkt_free (p);
}

TEST (malformed_packets_over_the_wire)
{
  private_host ();
  make_sandbox (SB1);
  struct net_dns *dns = start_server ("");
  add_sandbox (dns, "ct1", SB1);
  static const uint8_t short_header[5] = { 1, 2, 3, 4, 5 };
  static const uint8_t loop[] = { 0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
  static const uint8_t huge[] = { 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
  send_raw_udp_and_tcp (short_header, sizeof short_header);
  send_raw_udp_and_tcp (loop, sizeof loop);
  send_raw_udp_and_tcp (huge, sizeof huge);
  /* The loop over UDP: FORMERR with the ID. */
  int err = 0;
  ldns_pkt *p = ask (SB1, false, loop, sizeof loop, 2000, &err);
  CHECK (p != NULL && ldns_pkt_id (p) == 0xabcd && ldns_pkt_get_rcode (p) == LDNS_RCODE_FORMERR);
  ldns_pkt_free (p);
  /* An empty TCP message, and a length the client never completes. */
  send_raw_udp_and_tcp (NULL, 0);
  static const uint8_t partial[] = { 0xff, 0xff, 0x00 };
  send_raw_udp_and_tcp (partial, sizeof partial);
  uint8_t junk[300];
  for (int i = 0; i < 50; i++)
    {
      arc4random_buf (junk, sizeof junk);
      send_raw_udp_and_tcp (junk, 12 + arc4random_uniform (sizeof junk - 12));
    }
  p = ask_name (SB1, false, "web.", LDNS_RR_TYPE_A, 42);
  CHECK_STR (answer_addrs (p), "10.0.0.2");
  ldns_pkt_free (p);
  p = ask_name (SB1, true, "web.", LDNS_RR_TYPE_A, 43);
  CHECK_STR (answer_addrs (p), "10.0.0.2");
  ldns_pkt_free (p);
  net_dns_stop (dns);
}

/* In SB1, a TCP connection to the server that is kept open. */
static void *connect_thread (void *arg)
{
  int *fd = arg;
  int ns = open (SB1, O_RDONLY | O_CLOEXEC);
  CHECK (ns >= 0 && setns (ns, CLONE_NEWNET) == 0);
  close (ns);
  *fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (53) };
  inet_pton (AF_INET, "127.0.0.11", &sa.sin_addr);
  CHECK (connect (*fd, (struct sockaddr *) &sa, sizeof sa) == 0);
  return NULL;
}

static int open_conn (void)
{
  int fd = -1;
  pthread_t t;
  CHECK (pthread_create (&t, NULL, connect_thread, &fd) == 0);
  pthread_join (t, NULL);
  return fd;
}

TEST (tcp_connections_are_capped)
{
  private_host ();
  make_sandbox (SB1);
  struct net_dns *dns = start_server ("");
  add_sandbox (dns, "ct1", SB1);
  int fds[17];
  for (int i = 0; i < 17; i++)
    fds[i] = open_conn ();
  /* The 17th is accepted and closed at once. */
  uint8_t b;
  CHECK (wait_readable (fds[16], 3000) == 0);
  CHECK (recv (fds[16], &b, 1, 0) == 0);
  /* The others are still served. */
  size_t len;
  uint8_t *q = query_wire ("web.", LDNS_RR_TYPE_A, 5, &len);
  struct ask a = { .query = q, .query_len = len, .timeout_ms = 3000 };
  CHECK (ask_tcp (&a, fds[0]) == 0);
  ldns_pkt *p = NULL;
  CHECK (ldns_wire2pkt (&p, a.reply, (size_t) a.reply_len) == LDNS_STATUS_OK);
  CHECK_STR (answer_addrs (p), "10.0.0.2");
  ldns_pkt_free (p);
  free (q);
  /* Stopping with connections open closes them. */
  net_dns_stop (dns);
  CHECK (wait_readable (fds[1], 3000) == 0);
  CHECK (recv (fds[1], &b, 1, 0) == 0);
  for (int i = 0; i < 17; i++)
    close (fds[i]);
}

TEST (remove_sandbox_closes_sockets)
{
  private_host ();
  make_sandbox (SB1);
  struct net_dns *dns = start_server ("");
  add_sandbox (dns, "ct1", SB1);
  ldns_pkt *p = ask_name (SB1, false, "web.", LDNS_RR_TYPE_A, 1);
  ldns_pkt_free (p);
  int open_fd = open_conn ();
  net_dns_remove_sandbox (dns, "ct1");
  size_t len;
  uint8_t *q = query_wire ("web.", LDNS_RR_TYPE_A, 2, &len);
  int err = 0;
  CHECK (ask (SB1, false, q, len, 1000, &err) == NULL);
  CHECK (err == ECONNREFUSED);
  CHECK (ask (SB1, true, q, len, 1000, &err) == NULL);
  CHECK (err == ECONNREFUSED);
  /* Its open connections go too (just after, from the DNS thread). */
  uint8_t b;
  CHECK (wait_readable (open_fd, 3000) == 0);
  CHECK (recv (open_fd, &b, 1, 0) <= 0);
  close (open_fd);
  /* Unknown keys are ignored; the same key can be served again. */
  net_dns_remove_sandbox (dns, "ct1");
  net_dns_remove_sandbox (dns, "nope");
  add_sandbox (dns, "ct1", SB1);
  CHECK ((p = ask (SB1, false, q, len, 2000, &err)) != NULL);
  CHECK_STR (answer_addrs (p), "10.0.0.2");
  ldns_pkt_free (p);
  free (q);
  net_dns_stop (dns);
}

TEST (add_sandbox_errors)
{
  private_host ();
  make_sandbox (SB1);
  struct net_dns *dns = start_server ("");
  berth_err err = NULL;
  CHECK (net_dns_add_sandbox (dns, "x", "/tmp/missing", &err) == -ENOENT);
  CHECK_CONTAINS (err->msg, "/tmp/missing");
  berth_error_free (&err);
  add_sandbox (dns, "ct1", SB1);
  CHECK (net_dns_add_sandbox (dns, "ct1", SB1, &err) == -EEXIST);
  berth_error_free (&err);
  /* Another key on a namespace already served: 53 is taken there. */
  CHECK (net_dns_add_sandbox (dns, "ct9", SB1, &err) == -EADDRINUSE);
  CHECK_CONTAINS (err->msg, "127.0.0.11:53");
  berth_error_free (&err);
  net_dns_stop (dns);
}

struct churn
{
  struct net_dns *dns;
  int rounds;
};

/* Adds and removes ct2 while it is being asked. */
static void *churn_thread (void *arg)
{
  struct churn *c = arg;
  for (int i = 0; i < c->rounds; i++)
    {
      berth_err err = NULL;
      if (net_dns_add_sandbox (c->dns, "ct2", SB2, &err) < 0)
        {
          printf ("  round %d: %s\n", i, err->msg);
          berth_error_free (&err);
          return "add failed";
        }
      net_dns_remove_sandbox (c->dns, "ct2");
    }
  return NULL;
}

static void *ask_sb2_thread (void *arg)
{
  size_t len;
  uint8_t *q = query_wire ("web.", LDNS_RR_TYPE_A, 8, &len);
  for (int i = 0; i < 100; i++)
    {
      int err;
      ldns_pkt_free (ask (SB2, i % 2, q, len, 20, &err));
    }
  free (q);
  return NULL;
}

TEST (add_and_remove_while_serving)
{
  private_host ();
  make_sandbox (SB1);
  make_sandbox (SB2);
  struct net_dns *dns = start_server ("");
  add_sandbox (dns, "ct1", SB1);
  struct churn c = { dns, 200 };
  pthread_t churner, asker;
  CHECK (pthread_create (&churner, NULL, churn_thread, &c) == 0);
  CHECK (pthread_create (&asker, NULL, ask_sb2_thread, NULL) == 0);
  for (int i = 0; i < 50; i++)
    {
      ldns_pkt *p = ask_name (SB1, i % 2, "web.", LDNS_RR_TYPE_A, (uint16_t) i);
      CHECK_STR (answer_addrs (p), "10.0.0.2");
      ldns_pkt_free (p);
    }
  void *why = NULL;
  pthread_join (churner, &why);
  pthread_join (asker, NULL);
  CHECK (why == NULL);
  net_dns_stop (dns);
}

static int count_entries (const char *dir)
{
  DIR *d = opendir (dir);
  CHECK (d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir (d));)
    n += e->d_name[0] != '.';
  closedir (d);
  return n;
}

TEST (stop_is_clean)
{
  private_host ();
  make_sandbox (SB1);
  make_sandbox (SB2);
  int silent = bind_socket (SOCK_DGRAM, "127.0.0.1");
  int fds_before = count_entries ("/proc/self/fd");
  CHECK (count_entries ("/proc/self/task") == 1);
  struct net_dns *dns = start_server ("nameserver 127.0.0.1\n");
  add_sandbox (dns, "ct1", SB1);
  add_sandbox (dns, "ct2", SB2);
  net_dns_remove_sandbox (dns, "ct2");
  /* Stop with a forward in flight (the silent resolver) and a client
   * connection open. */
  size_t len;
  uint8_t *q = query_wire ("example.org.", LDNS_RR_TYPE_A, 3, &len);
  int err;
  CHECK (ask (SB1, false, q, len, 100, &err) == NULL && err == ETIMEDOUT);
  free (q);
  int conn = open_conn ();
  net_dns_stop (dns);
  close (conn);
  CHECK (count_entries ("/proc/self/task") == 1);
  CHECK (count_entries ("/proc/self/fd") == fds_before);
  close (silent);
#if defined(__SANITIZE_ADDRESS__)
  CHECK (__lsan_do_recoverable_leak_check () == 0);
#endif
}
