/* The device event loop (after redis's ae): one epoll thread per VM runs
 * every device's I/O.  Virtqueue kicks arrive as ioeventfds, tap and vsock
 * sockets as readable fds, rate-limiter refills and balloon statistics as
 * timerfds; all of them are just fds with a callback here.
 *
 * Callbacks run on the loop thread, one at a time, so device state touched
 * only from callbacks needs no lock.  Other threads (the API, vCPUs) hand
 * work to the loop with evloop_call(), never by touching device state. */
#ifndef BERTH_VMM_EVLOOP_H
#define BERTH_VMM_EVLOOP_H

#include <stdint.h>

#include "common/error.h"

struct evloop;

/* EVENTS is the EPOLLIN/EPOLLOUT/... mask that fired. */
typedef void (*evloop_fn) (void *opaque, uint32_t events);

int evloop_new (struct evloop **out, berth_err *err);
void evloop_free (struct evloop *l);

/* Watch FD for EVENTS (EPOLLIN, EPOLLOUT; level-triggered).  One callback
 * per fd; the loop does not own FD.  evloop_mod changes the mask. */
int evloop_add (struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);
int evloop_mod (struct evloop *l, int fd, uint32_t events);
/* Stop watching FD; safe from inside any callback (a pending event for FD
 * in the same epoll batch is dropped). */
int evloop_del (struct evloop *l, int fd);

/* A periodic or one-shot timer (timerfd, CLOCK_MONOTONIC): first after
 * FIRST_MS, then every PERIOD_MS (0: once).  Returns the timer fd, which is
 * also the handle for evloop_timer_del; -errno on failure. */
int evloop_timer_add (struct evloop *l, uint64_t first_ms, uint64_t period_ms, evloop_fn fn, void *opaque);
int evloop_timer_del (struct evloop *l, int tfd);

/* Run FN(OPAQUE, 0) on the loop thread and wait until it has run.  From
 * the loop thread itself it runs FN at once.  Returns 0 or -errno. */
int evloop_call (struct evloop *l, evloop_fn fn, void *opaque);

/* Run until evloop_stop(); returns 0, or -errno if epoll fails. */
int evloop_run (struct evloop *l);
/* Any thread: make evloop_run return after the current callback. */
void evloop_stop (struct evloop *l);

#endif
