/* berthd's event log: what `docker events` shows.
 *
 * Events are kept in memory (the last EVENTS_KEEP), and GET /events
 * replays those in [since, until) that match the filters, then (without
 * "until" in the past) streams new ones as they happen, one JSON object per
 * line, in Docker's shape:
 *   {"status": ACTION, "id": ID, "from": IMAGE,         (legacy fields, for
 *    "Type": "container", "Action": "start",             containers only)
 *    "Actor": {"ID": ID, "Attributes": {"name": ..., "image": ..., labels}},
 *    "scope": "local", "time": SECONDS, "timeNano": NS}
 * Filters (query "filters", Docker's JSON {"key": ["v", ...]} or the old
 * {"key": {"v": true}}): type, event (action; "health_status" style
 * prefixes match before ':'), container (id, id prefix or name), image,
 * label (key or key=value), and unknown keys are a 400. */
#ifndef BERTH_EVENTS_H
#define BERTH_EVENTS_H

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

/* Wake every streaming reader so it can notice the daemon is stopping. */
void events_shutdown (struct events *ev);

#endif
