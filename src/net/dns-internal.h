/* The embedded DNS server's message handling (dns-wire.c), apart from its
 * sockets and thread (dns.c) so that it can be tested on its own.
 *
 * Untrusted messages are parsed and built with ldns (ldns_wire2pkt,
 * ldns_pkt2wire); the only bytes read by hand are the 12-byte header's ID
 * and flags, each after a length check. */
#ifndef BERTH_NET_DNS_INTERNAL_H
#define BERTH_NET_DNS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/net.h"

#define DNS_HEADER_LEN 12
/* A UDP answer without EDNS must fit in 512 bytes (RFC 1035 4.2.1); larger
 * ones are cut and marked truncated so that the client asks over TCP. */
#define DNS_UDP_MAX 512
#define DNS_TCP_MAX 65535
#define DNS_TTL 600
/* Most addresses one name answers with (a network alias shared by many
 * containers); more would not fit a UDP answer anyway. */
#define DNS_MAX_ADDRS 32
/* glibc reads at most 3 nameservers (MAXNS); so do we. */
#define DNS_MAX_RESOLVERS 3

struct dns_callbacks
{
  net_dns_lookup_fn lookup;
  net_dns_reverse_fn reverse;
  void *ctx;
};

enum dns_verdict
{
  DNS_DROP,     /* not a query, or too broken to answer at all */
  DNS_REPLY,    /* *reply holds the answer (heap, free()) */
  DNS_FORWARD,  /* not ours: send it to the host's resolvers */
};

/* What to do with the query WIRE (LEN bytes) that came from the sandbox
 * KEY; an answer is at most MAX_REPLY bytes (DNS_UDP_MAX or DNS_TCP_MAX).
 * Callbacks are called from here. */
enum dns_verdict dns_handle_query (const struct dns_callbacks *cb, const char *key, const uint8_t *wire, size_t len,
                                   size_t max_reply, uint8_t **reply, size_t *reply_len);

/* A SERVFAIL answer to the query WIRE (for a forward that failed);
 * false if WIRE has no readable header. */
bool dns_servfail (const uint8_t *wire, size_t len, uint8_t **reply, size_t *reply_len);

/* "4.3.2.10.in-addr.arpa" (lower case, no trailing dot) -> 10.2.3.4;
 * false for any other name. */
bool dns_parse_reverse_name (const char *name, struct in_addr *out);

/* The header's ID, which the forwarder rewrites; LEN >= 2 is checked by
 * the caller (every caller has >= DNS_HEADER_LEN). */
static inline uint16_t dns_wire_id (const uint8_t *wire)
{
  return (uint16_t) (wire[0] << 8 | wire[1]);
}

static inline void dns_wire_set_id (uint8_t *wire, uint16_t id)
{
  wire[0] = id >> 8;
  wire[1] = id & 0xff;
}

/* The QR bit: set in answers, clear in queries. */
static inline bool dns_wire_is_response (const uint8_t *wire)
{
  return (wire[2] & 0x80) != 0;
}

struct dns_resolver
{
  struct sockaddr_storage addr;  /* port 53 */
  socklen_t len;
};

/* The "nameserver" lines of a resolv.conf (at most DNS_MAX_RESOLVERS,
 * IPv4 or IPv6), in order.  A missing file is no resolvers (glibc would
 * then use 127.0.0.1; we answer SERVFAIL instead, as Docker does when it
 * has no upstream).  Returns how many. */
int dns_read_resolv_conf (const char *path, struct dns_resolver *out, int max);
/* An IPv4 or IPv6 address as a resolver on port 53; false if not one. */
bool dns_resolver_from_text (const char *text, struct dns_resolver *out);

#endif
