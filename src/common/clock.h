/* Time stamps in the formats the OCI and Docker APIs use. */
#ifndef BERTH_CLOCK_H
#define BERTH_CLOCK_H

/* Now as RFC 3339 with nanoseconds, UTC: "2026-11-24T01:02:03.123456789Z".
 * Heap string, NULL when out of memory. */
char *berth_rfc3339_now (void);

#endif
