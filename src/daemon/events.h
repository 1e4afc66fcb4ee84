/* berthd's event log: what `docker events` shows.
 *
 * Events are kept in memory (the last EVENTS_KEEP), and GET /events
 * replays those in [since, until] (both inclusive, as Docker; only when
 * one of them is given) that match the filters, then (without "until" in
 * the past) streams new ones as they happen until "until", one JSON object
 * per line, in Docker's shape:
 *   {"status": ACTION, "id": ID, "from": IMAGE,         (legacy fields:
 *    "Type": "container", "Action": "start",             status and id for
 *    "Actor": {"ID": ID, "Attributes": {"name": ...,     containers and
 *              "image": ..., labels}},                   images, from for
 *    "scope": "local", "time": SECONDS, "timeNano": NS}  containers only)
 * Filters (query "filters", Docker's JSON {"key": ["v", ...]} or the old
 * {"key": {"v": true}}); values of one key are alternatives, keys must all
 * match (label: every value must match):
 *   type       the event's Type
 *   event      the Action; with a value health_status, exec_create or
 *              exec_start, values match as prefixes ("health_status: ...")
 *   container  prefix of the actor's id or of its "name" attribute (and
 *              so for daemon, network, volume, plugin, node, service,
 *              secret, config)
 *   image      the actor's id, or its "image" attribute (container events)
 *              or "name" attribute (image events), each also without its
 *              tag or digest
 *   label      KEY or KEY=VALUE among the actor's attributes
 *   scope      "local"
 * Unknown keys are an error (a 400). */
#ifndef BERTH_EVENTS_H
#define BERTH_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/json.h"

#define EVENTS_KEEP 4096

struct events;

struct events *events_new (void);
void events_free (struct events *ev);

/* Record and publish one event.  TYPE "container", "image", "network"...;
 * ACTION "create", "start", "die", "tag"...; ID the actor's id (image
 * events: the image id or reference, as Docker does); ATTRS (stolen, may
 * be NULL) the actor's attributes (name, image, exitCode, signal...). */
void events_emit (struct events *ev, const char *type, const char *action, const char *id, json_t *attrs);

/* Wake every streaming reader so it can notice the daemon is stopping:
 * from then on events_next never waits.  Call it before stopping the HTTP
 * server, whose connection threads may be blocked in events_next. */
void events_shutdown (struct events *ev);

/* ---- reading: GET /events (api-events.c) and the unit tests ---- */

struct events_filter;

/* Parse the "filters" query value (NULL or "" filters nothing).  Bad JSON,
 * an unknown key or a value that is not strings fail with EINVAL. */
int events_filter_parse (const char *json, struct events_filter **out, berth_err *err);
void events_filter_free (struct events_filter *f);
/* Whether the event MSG (as events_next returns it) passes F (NULL: all). */
bool events_filter_match (const struct events_filter *f, json_t *msg);

/* A reader's place in the log; fill it with events_reader_init. */
struct events_reader
{
  uint64_t next;                        /* number of the next event to look at */
  int64_t until_ns;                     /* skip events after this; 0: no bound */
  const struct events_filter *filter;   /* borrowed; NULL: every event */
};

/* Start reading.  With SINCE_NS or UNTIL_NS (ns since the epoch, 0 =
 * unset) the reader starts at the oldest kept event at or after SINCE_NS,
 * so past events are replayed; without either only events emitted from
 * now on are read. */
void events_reader_init (struct events *ev, struct events_reader *r, int64_t since_ns, int64_t until_ns,
                         const struct events_filter *filter);

/* The reader's next event that passes its filter and bounds: returns 1
 * and *msg (a new reference).  When there is none yet, waits for one
 * until DEADLINE_NS (CLOCK_REALTIME ns since the epoch; 0: no deadline;
 * a deadline in the past: no wait) and returns 0 at the deadline, or
 * -ESHUTDOWN once events_shutdown was called.  A reader that fell more
 * than EVENTS_KEEP events behind skips those that were dropped. */
int events_next (struct events *ev, struct events_reader *r, int64_t deadline_ns, json_t **msg);

#endif
