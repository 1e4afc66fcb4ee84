/* The embedded DNS server's answers: parse a query with ldns, ask berthd's
 * callbacks, build the answer with ldns.  No sockets here (dns.c). */
#include "net/dns-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ldns/ldns.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

static void cleanup_pktp (ldns_pkt **p)
{
  if (*p)
    ldns_pkt_free (*p);
}
#define cleanup_pkt __attribute__ ((cleanup (cleanup_pktp)))

/* PKT as wire format into *OUT; false when out of memory. */
static bool to_wire (const ldns_pkt *pkt, uint8_t **out, size_t *len)
{
  *out = NULL;
  return ldns_pkt2wire (out, pkt, len) == LDNS_STATUS_OK && *out != NULL;
}

/* An answer carrying only a header: for queries whose question cannot be
 * read, so there is nothing to copy but the ID and opcode.  The header is
 * 12 bytes, checked by the caller. */
static bool header_only_reply (const uint8_t *wire, uint8_t rcode, uint8_t **out, size_t *len)
{
  cleanup_pkt ldns_pkt *r = ldns_pkt_new ();
  if (r == NULL)
    return false;
  ldns_pkt_set_id (r, dns_wire_id (wire));
  ldns_pkt_set_qr (r, true);
  ldns_pkt_set_opcode (r, (ldns_pkt_opcode) ((wire[2] >> 3) & 0x0f));
  ldns_pkt_set_rd (r, (wire[2] & 0x01) != 0);
  ldns_pkt_set_ra (r, true);
  ldns_pkt_set_rcode (r, rcode);
  return to_wire (r, out, len);
}

/* The answer to Q with its question copied, no records yet. */
static ldns_pkt *reply_for (const ldns_pkt *q, uint8_t rcode, bool authoritative)
{
  ldns_pkt *r = ldns_pkt_new ();
  if (r == NULL)
    return NULL;
  ldns_pkt_set_id (r, ldns_pkt_id (q));
  ldns_pkt_set_qr (r, true);
  ldns_pkt_set_opcode (r, ldns_pkt_get_opcode (q));
  ldns_pkt_set_rd (r, ldns_pkt_rd (q));
  ldns_pkt_set_ra (r, true);
  ldns_pkt_set_aa (r, authoritative);
  ldns_pkt_set_rcode (r, rcode);
  ldns_rr *question = ldns_rr_list_rr (ldns_pkt_question (q), 0);
  if (question)
    {
      ldns_rr *copy = ldns_rr_clone (question);
      if (copy == NULL || !ldns_pkt_push_rr (r, LDNS_SECTION_QUESTION, copy))
        {
          ldns_rr_free (copy);
          ldns_pkt_free (r);
          return NULL;
        }
    }
  return r;
}

static bool simple_reply (const ldns_pkt *q, uint8_t rcode, bool authoritative, uint8_t **out, size_t *len)
{
  cleanup_pkt ldns_pkt *r = reply_for (q, rcode, authoritative);
  return r && to_wire (r, out, len);
}

/* An answer record OWNER TYPE with one field RDATA (taken). */
static bool push_answer (ldns_pkt *r, const ldns_rdf *owner, ldns_rr_type type, ldns_rdf *rdata)
{
  ldns_rr *rr = ldns_rr_new ();
  ldns_rdf *name = ldns_rdf_clone (owner);
  if (rr == NULL || name == NULL || rdata == NULL)
    {
      ldns_rr_free (rr);
      ldns_rdf_deep_free (name);
      ldns_rdf_deep_free (rdata);
      return false;
    }
  ldns_rr_set_owner (rr, name);
  ldns_rr_set_type (rr, type);
  ldns_rr_set_class (rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl (rr, DNS_TTL);
  if (!ldns_rr_push_rdf (rr, rdata))
    {
      ldns_rdf_deep_free (rdata);
      ldns_rr_free (rr);
      return false;
    }
  if (!ldns_pkt_push_rr (r, LDNS_SECTION_ANSWER, rr))
    {
      ldns_rr_free (rr);
      return false;
    }
  return true;
}

/* N A records for the question of Q.  When they do not fit MAX_REPLY,
 * fewer are sent with TC set (as Docker does), so the client can retry
 * over TCP to get them all. */
static bool a_reply (const ldns_pkt *q, const ldns_rdf *owner, const struct in_addr *addrs, int n, size_t max_reply,
                     uint8_t **out, size_t *len)
{
  bool truncated = false;
  for (;;)
    {
      cleanup_pkt ldns_pkt *r = reply_for (q, LDNS_RCODE_NOERROR, true);
      if (r == NULL)
        return false;
      for (int i = 0; i < n; i++)
        if (!push_answer (r, owner, LDNS_RR_TYPE_A, ldns_rdf_new_frm_data (LDNS_RDF_TYPE_A, 4, &addrs[i])))
          return false;
      ldns_pkt_set_tc (r, truncated);
      if (!to_wire (r, out, len))
        return false;
      if (*len <= max_reply || n == 0)
        return true;
      free (*out);
      *out = NULL;
      n /= 2;
      truncated = true;
    }
}

static bool ptr_reply (const ldns_pkt *q, const ldns_rdf *owner, const char *target, uint8_t **out, size_t *len)
{
  cleanup_pkt ldns_pkt *r = reply_for (q, LDNS_RCODE_NOERROR, true);
  if (r == NULL)
    return false;
  ldns_rdf *name = ldns_dname_new_frm_str (target);
  if (name == NULL)
    return false;
  return push_answer (r, owner, LDNS_RR_TYPE_PTR, name) && to_wire (r, out, len);
}

/* Round robin as Docker does it: the same addresses in a new order for
 * each answer, so clients that take the first one spread their load. */
static void shuffle (struct in_addr *a, int n)
{
  for (int i = n - 1; i > 0; i--)
    {
      int j = (int) arc4random_uniform ((uint32_t) i + 1);
      struct in_addr t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
}

/* The question's name as the callbacks take it: lower case, no trailing
 * dot, labels escaped by ldns ("a\.b" for a dot inside a label, so such a
 * name can never equal a container's).  NULL for the root or no memory. */
static char *callback_name (const ldns_rdf *owner)
{
  ldns_rdf *canon = ldns_rdf_clone (owner);
  if (canon == NULL)
    return NULL;
  ldns_dname2canonical (canon);
  char *s = ldns_rdf2str (canon);
  ldns_rdf_deep_free (canon);
  if (s == NULL)
    return NULL;
  size_t l = strlen (s);
  if (l > 0 && s[l - 1] == '.')
    s[--l] = '\0';
  if (l == 0)
    {
      free (s);
      return NULL;
    }
  return s;
}

static int lookup (const struct dns_callbacks *cb, const char *key, const char *name, struct in_addr *addrs)
{
  if (cb->lookup == NULL)
    return 0;
  int n = cb->lookup (cb->ctx, key, name, addrs, DNS_MAX_ADDRS);
  return n < 0 ? 0 : n > DNS_MAX_ADDRS ? DNS_MAX_ADDRS : n;
}

/* Q has exactly one question, of class IN. */
static enum dns_verdict answer_in_class (const struct dns_callbacks *cb, const char *key, const ldns_pkt *q,
                                         size_t max_reply, uint8_t **reply, size_t *reply_len)
{
  const ldns_rr *question = ldns_rr_list_rr (ldns_pkt_question (q), 0);
  const ldns_rdf *owner = ldns_rr_owner (question);
  cleanup_free char *name = callback_name (owner);
  if (name == NULL)
    return DNS_FORWARD;
  struct in_addr addrs[DNS_MAX_ADDRS];
  switch (ldns_rr_get_type (question))
    {
    case LDNS_RR_TYPE_A:
      {
        int n = lookup (cb, key, name, addrs);
        if (n == 0)
          return DNS_FORWARD;
        shuffle (addrs, n);
        return a_reply (q, owner, addrs, n, max_reply, reply, reply_len) ? DNS_REPLY : DNS_DROP;
      }
    case LDNS_RR_TYPE_AAAA:
      /* Containers have no IPv6 addresses yet: a known name has no AAAA
       * records, which is NOERROR with no answers (not NXDOMAIN, which
       * would make resolvers give up on the A answer too). */
      if (lookup (cb, key, name, addrs) == 0)
        return DNS_FORWARD;
      return simple_reply (q, LDNS_RCODE_NOERROR, true, reply, reply_len) ? DNS_REPLY : DNS_DROP;
    case LDNS_RR_TYPE_PTR:
      {
        struct in_addr a;
        char target[256] = "";
        if (!dns_parse_reverse_name (name, &a) || cb->reverse == NULL
            || cb->reverse (cb->ctx, key, a, target, sizeof target) != 0 || target[0] == '\0')
          return DNS_FORWARD;
        target[sizeof target - 1] = '\0';
        /* A name that is not a valid domain name is treated as unknown. */
        return ptr_reply (q, owner, target, reply, reply_len) ? DNS_REPLY : DNS_FORWARD;
      }
    default:
      return DNS_FORWARD;
    }
}

enum dns_verdict dns_handle_query (const struct dns_callbacks *cb, const char *key, const uint8_t *wire, size_t len,
                                   size_t max_reply, uint8_t **reply, size_t *reply_len)
{
  *reply = NULL;
  if (len < DNS_HEADER_LEN || dns_wire_is_response (wire))
    return DNS_DROP;
  cleanup_pkt ldns_pkt *q = NULL;
  /* ldns bounds every read, follows at most a fixed number of
   * compression pointers and refuses counts the message cannot hold. */
  if (ldns_wire2pkt (&q, wire, len) != LDNS_STATUS_OK || q == NULL)
    return header_only_reply (wire, LDNS_RCODE_FORMERR, reply, reply_len) ? DNS_REPLY : DNS_DROP;
  if (ldns_pkt_get_opcode (q) != LDNS_PACKET_QUERY)
    return simple_reply (q, LDNS_RCODE_NOTIMPL, false, reply, reply_len) ? DNS_REPLY : DNS_DROP;
  if (ldns_pkt_qdcount (q) != 1 || ldns_rr_list_rr_count (ldns_pkt_question (q)) != 1)
    return simple_reply (q, LDNS_RCODE_FORMERR, false, reply, reply_len) ? DNS_REPLY : DNS_DROP;
  /* Other classes (CHAOS version.bind...) are the upstream's business. */
  if (ldns_rr_get_class (ldns_rr_list_rr (ldns_pkt_question (q), 0)) != LDNS_RR_CLASS_IN)
    return DNS_FORWARD;
  return answer_in_class (cb, key, q, max_reply, reply, reply_len);
}

bool dns_servfail (const uint8_t *wire, size_t len, uint8_t **reply, size_t *reply_len)
{
  *reply = NULL;
  if (len < DNS_HEADER_LEN)
    return false;
  cleanup_pkt ldns_pkt *q = NULL;
  if (ldns_wire2pkt (&q, wire, len) != LDNS_STATUS_OK || q == NULL)
    return header_only_reply (wire, LDNS_RCODE_SERVFAIL, reply, reply_len);
  return simple_reply (q, LDNS_RCODE_SERVFAIL, false, reply, reply_len);
}

/* One decimal label of a reverse name, 0..255 without sign or spaces;
 * advances *P past it and its dot. */
static bool reverse_octet (const char **p, uint8_t *out)
{
  unsigned v = 0;
  int digits = 0;
  while (isdigit ((unsigned char) **p) && digits < 3)
    {
      v = v * 10 + (unsigned) (**p - '0');
      (*p)++;
      digits++;
    }
  if (digits == 0 || v > 255 || **p != '.')
    return false;
  (*p)++;
  *out = (uint8_t) v;
  return true;
}

bool dns_parse_reverse_name (const char *name, struct in_addr *out)
{
  uint8_t o[4];
  const char *p = name;
  for (int i = 0; i < 4; i++)
    if (!reverse_octet (&p, &o[i]))
      return false;
  if (strcmp (p, "in-addr.arpa") != 0)
    return false;
  /* The labels are the address's bytes in reverse order. */
  uint8_t bytes[4] = { o[3], o[2], o[1], o[0] };
  memcpy (&out->s_addr, bytes, 4);
  return true;
}

/* ADDR as a resolver on port 53, numeric only (no lookups from here);
 * handles "fe80::1%eth0" too. */
bool dns_resolver_from_text (const char *addr, struct dns_resolver *out)
{
  struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_DGRAM };
  struct addrinfo *ai = NULL;
  if (getaddrinfo (addr, "53", &hints, &ai) != 0 || ai == NULL)
    return false;
  bool ok = ai->ai_addrlen <= sizeof out->addr;
  if (ok)
    {
      memset (out, 0, sizeof *out);
      memcpy (&out->addr, ai->ai_addr, ai->ai_addrlen);
      out->len = ai->ai_addrlen;
    }
  freeaddrinfo (ai);
  return ok;
}

int dns_read_resolv_conf (const char *path, struct dns_resolver *out, int max)
{
  cleanup_file FILE *f = fopen (path, "re");
  if (f == NULL)
    return 0;
  int n = 0;
  char line[512];
  while (n < max && fgets (line, sizeof line, f))
    {
      char *save = NULL;
      char *word = strtok_r (line, " \t\r\n", &save);
      if (word == NULL || strcmp (word, "nameserver") != 0)
        continue;
      char *addr = strtok_r (NULL, " \t\r\n", &save);
      if (addr && dns_resolver_from_text (addr, &out[n]))
        n++;
    }
  return n;
}
