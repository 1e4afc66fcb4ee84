/* berthd's event log: message shape, filters, since/until replay, blocking
 * readers, shutdown and the ring's bound (without HTTP). */
#include "unit.h"

#include "daemon/events.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static int64_t now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_ms (long ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
  nanosleep (&ts, NULL);
}

/* The Action of each event a fresh reader with these bounds and filter
 * sees without waiting, joined with spaces. */
static char *replay (struct events *ev, int64_t since, int64_t until, const char *filter)
{
  struct events_filter *f = NULL;
  berth_err err = NULL;
  struct events_reader r;
  static char buf[65536];
  json_t *msg;
  if (events_filter_parse (filter, &f, &err) < 0)
    {
      printf ("  filter %s: %s\n", filter, err->msg);
      _exit (1);
    }
  events_reader_init (ev, &r, since, until, f);
  buf[0] = '\0';
  while (events_next (ev, &r, 1, &msg) == 1)
    {
      if (buf[0])
        strcat (buf, " ");
      strncat (buf, json_string_value (json_object_get (msg, "Action")), 100);
      json_decref (msg);
    }
  events_filter_free (f);
  return buf;
}

/* Every kept event, with any filter. */
static char *matching (struct events *ev, const char *filter)
{
  return replay (ev, 1, 0, filter);
}

static json_t *attrs (const char *name, const char *image)
{
  json_t *a = json_object ();
  if (name)
    json_object_set_new (a, "name", json_string (name));
  if (image)
    json_object_set_new (a, "image", json_string (image));
  return a;
}

TEST (message_shape)
{
  struct events *ev = events_new ();
  int64_t before = now_ns ();
  events_emit (ev, "container", "start", "abc123", attrs ("web", "busybox:1"));
  events_emit (ev, "image", "tag", "sha256:77", attrs ("bb:2", NULL));
  events_emit (ev, "network", "connect", "net1", NULL);
  struct events_reader r;
  json_t *m;
  events_reader_init (ev, &r, 1, 0, NULL);

  CHECK (events_next (ev, &r, 1, &m) == 1);
  CHECK_STR (json_string_value (json_object_get (m, "status")), "start");
  CHECK_STR (json_string_value (json_object_get (m, "id")), "abc123");
  CHECK_STR (json_string_value (json_object_get (m, "from")), "busybox:1");
  CHECK_STR (json_string_value (json_object_get (m, "Type")), "container");
  CHECK_STR (json_string_value (json_object_get (m, "Action")), "start");
  CHECK_STR (json_string_value (berth_json_path (m, "Actor.ID")), "abc123");
  CHECK_STR (json_string_value (berth_json_path (m, "Actor.Attributes.name")), "web");
  CHECK_STR (json_string_value (json_object_get (m, "scope")), "local");
  json_int_t t = json_integer_value (json_object_get (m, "timeNano"));
  CHECK (t >= before && t <= now_ns ());
  CHECK (json_integer_value (json_object_get (m, "time")) == t / 1000000000);
  json_decref (m);

  CHECK (events_next (ev, &r, 1, &m) == 1);
  CHECK_STR (json_string_value (json_object_get (m, "status")), "tag");
  CHECK_STR (json_string_value (json_object_get (m, "id")), "sha256:77");
  CHECK (json_object_get (m, "from") == NULL);
  json_decref (m);

  /* other types have no legacy fields, and always an Attributes object */
  CHECK (events_next (ev, &r, 1, &m) == 1);
  CHECK (json_object_get (m, "status") == NULL && json_object_get (m, "id") == NULL);
  CHECK (json_is_object (berth_json_path (m, "Actor.Attributes")));
  json_decref (m);
  CHECK (events_next (ev, &r, 1, &m) == 0);
  events_free (ev);
}

TEST (emit_tolerates_bad_arguments)
{
  events_emit (NULL, "image", "tag", "x", json_object ());
  struct events *ev = events_new ();
  events_emit (ev, "image", "tag", "x", json_string ("not an object"));
  events_emit (ev, NULL, "tag", "x", NULL);
  events_emit (ev, "image", "untag", NULL, NULL);
  CHECK_STR (matching (ev, NULL), "tag untag");
  events_free (ev);
}

/* A small log for the filter tests. */
static struct events *sample_log (void)
{
  struct events *ev = events_new ();
  json_t *a = attrs ("web", "docker.io/library/busybox:1.36");
  json_object_set_new (a, "tier", json_string ("front"));
  json_object_set_new (a, "team", json_string ("a"));
  events_emit (ev, "container", "create", "c0ffee11", a);
  events_emit (ev, "container", "health_status: healthy", "c0ffee11", attrs ("web", "busybox:1.36"));
  events_emit (ev, "container", "exec_start: sh -c true", "d00d", attrs ("db", "alpine"));
  events_emit (ev, "image", "tag", "sha256:aa", attrs ("busybox:x", NULL));
  events_emit (ev, "image", "delete", "sha256:bb", attrs ("sha256:bb", NULL));
  events_emit (ev, "network", "connect", "net1", attrs ("bridge", NULL));
  return ev;
}

TEST (filter_type_and_event)
{
  struct events *ev = sample_log ();
  CHECK_STR (matching (ev, "{\"type\":[\"image\"]}"), "tag delete");
  CHECK_STR (matching (ev, "{\"type\":{\"network\":true}}"), "connect");
  CHECK_STR (matching (ev, "{\"type\":[\"image\",\"network\"]}"), "tag delete connect");
  CHECK_STR (matching (ev, "{\"event\":[\"tag\"]}"), "tag");
  CHECK_STR (matching (ev, "{\"event\":[\"health\"]}"), "");
  CHECK_STR (matching (ev, "{\"event\":[\"health_status\"]}"), "health_status: healthy");
  CHECK_STR (matching (ev, "{\"event\":[\"exec_start\",\"create\"]}"), "create exec_start: sh -c true");
  CHECK_STR (matching (ev, "{\"event\":[\"tag\"],\"type\":[\"container\"]}"), "");
  CHECK_STR (matching (ev, "{\"scope\":[\"local\"]}"), "create health_status: healthy exec_start: sh -c true tag delete connect");
  CHECK_STR (matching (ev, "{\"scope\":[\"swarm\"]}"), "");
  CHECK_STR (matching (ev, "{}"), "create health_status: healthy exec_start: sh -c true tag delete connect");
  events_free (ev);
}

TEST (filter_container_and_names)
{
  struct events *ev = sample_log ();
  CHECK_STR (matching (ev, "{\"container\":[\"c0ffee11\"]}"), "create health_status: healthy");
  CHECK_STR (matching (ev, "{\"container\":[\"c0f\"]}"), "create health_status: healthy");
  CHECK_STR (matching (ev, "{\"container\":[\"db\"]}"), "exec_start: sh -c true");
  CHECK_STR (matching (ev, "{\"container\":[\"db\",\"web\"]}"), "create health_status: healthy exec_start: sh -c true");
  CHECK_STR (matching (ev, "{\"container\":[\"nothing\"]}"), "");
  CHECK_STR (matching (ev, "{\"network\":[\"bridge\"]}"), "connect");
  events_free (ev);
}

TEST (filter_image)
{
  struct events *ev = sample_log ();
  /* image events by id or name (also without the tag); container events
   * by their image, also without tag and registry */
  CHECK_STR (matching (ev, "{\"image\":[\"sha256:aa\"]}"), "tag");
  CHECK_STR (matching (ev, "{\"image\":[\"busybox:x\"]}"), "tag");
  CHECK_STR (matching (ev, "{\"image\":[\"busybox\"]}"), "create health_status: healthy tag");
  CHECK_STR (matching (ev, "{\"image\":[\"busybox:1.36\"]}"), "health_status: healthy");
  CHECK_STR (matching (ev, "{\"image\":[\"alpine\",\"sha256:bb\"]}"), "exec_start: sh -c true delete");
  CHECK_STR (matching (ev, "{\"image\":[\"busy\"]}"), "");
  events_free (ev);
}

TEST (filter_label)
{
  struct events *ev = sample_log ();
  CHECK_STR (matching (ev, "{\"label\":[\"tier\"]}"), "create");
  CHECK_STR (matching (ev, "{\"label\":[\"tier=front\"]}"), "create");
  CHECK_STR (matching (ev, "{\"label\":[\"tier=back\"]}"), "");
  /* every label value must match */
  CHECK_STR (matching (ev, "{\"label\":[\"tier=front\",\"team=a\"]}"), "create");
  CHECK_STR (matching (ev, "{\"label\":[\"tier=front\",\"team=b\"]}"), "");
  CHECK_STR (matching (ev, "{\"label\":{\"team\":true},\"type\":[\"container\"]}"), "create");
  events_free (ev);
}

TEST (filter_errors)
{
  static const char *const bad[] = {
    "not json", "[\"type\"]", "{\"frob\":[\"x\"]}", "{\"type\":\"image\"}", "{\"type\":[1]}",
    "{\"type\":{\"image\":\"yes\"}}", NULL,
  };
  for (const char *const *b = bad; *b; b++)
    {
      struct events_filter *f = NULL;
      berth_err err = NULL;
      if (events_filter_parse (*b, &f, &err) != -EINVAL || err == NULL)
        {
          printf ("  filter %s was accepted\n", *b);
          _exit (1);
        }
      berth_error_free (&err);
    }
  struct events_filter *f = NULL;
  berth_err err = NULL;
  CHECK (events_filter_parse ("{\"frob\":[\"x\"]}", &f, &err) < 0);
  CHECK_STR (err->msg, "invalid filter 'frob'");
  berth_error_free (&err);
  CHECK (events_filter_parse ("", &f, &err) == 0);
  CHECK (events_filter_match (f, json_object ()) == false); /* not an event */
  events_filter_free (f);
}

/* Three events 2 ms apart; returns their times. */
static struct events *timed_log (int64_t t[3])
{
  struct events *ev = events_new ();
  const char *actions[] = { "one", "two", "three" };
  struct events_reader r;
  json_t *m;
  events_reader_init (ev, &r, 1, 0, NULL);
  for (int i = 0; i < 3; i++)
    {
      events_emit (ev, "image", actions[i], "x", NULL);
      CHECK (events_next (ev, &r, 1, &m) == 1);
      t[i] = json_integer_value (json_object_get (m, "timeNano"));
      json_decref (m);
      pause_ms (2);
    }
  return ev;
}

TEST (since_until_replay)
{
  int64_t t[3];
  struct events *ev = timed_log (t);
  CHECK_STR (replay (ev, t[1], 0, NULL), "two three");
  CHECK_STR (replay (ev, t[1] + 1, 0, NULL), "three");
  CHECK_STR (replay (ev, 1, t[1], NULL), "one two");           /* until is inclusive */
  CHECK_STR (replay (ev, t[0] + 1, t[2] - 1, NULL), "two");
  CHECK_STR (replay (ev, 0, t[0], NULL), "one");               /* until alone replays */
  CHECK_STR (replay (ev, t[2] + 1, 0, NULL), "");
  CHECK_STR (replay (ev, 1, 0, "{\"event\":[\"two\"]}"), "two");
  /* neither: only events from now on */
  CHECK_STR (replay (ev, 0, 0, NULL), "");
  events_free (ev);
}

struct waiter
{
  struct events *ev;
  struct events_reader r;
  int64_t deadline;
  int ret;
  json_t *msg;
  volatile int done;
};

static void *wait_one (void *p)
{
  struct waiter *w = p;
  w->ret = events_next (w->ev, &w->r, w->deadline, &w->msg);
  w->done = 1;
  return NULL;
}

TEST (blocked_reader_gets_new_event)
{
  alarm (20);
  struct events *ev = events_new ();
  events_emit (ev, "image", "old", "x", NULL);
  struct events_filter *f = NULL;
  berth_err err = NULL;
  CHECK (events_filter_parse ("{\"event\":[\"wanted\"]}", &f, &err) == 0);
  struct waiter w = { .ev = ev };
  events_reader_init (ev, &w.r, 0, 0, f);
  pthread_t th;
  pthread_create (&th, NULL, wait_one, &w);
  pause_ms (100);
  CHECK (!w.done);
  events_emit (ev, "image", "unwanted", "x", NULL);
  pause_ms (100);
  CHECK (!w.done);  /* woken, but the event does not pass the filter */
  events_emit (ev, "image", "wanted", "x", NULL);
  pthread_join (th, NULL);
  CHECK (w.ret == 1);
  CHECK_STR (json_string_value (json_object_get (w.msg, "Action")), "wanted");
  json_decref (w.msg);
  events_filter_free (f);
  events_free (ev);
}

TEST (shutdown_wakes_readers)
{
  alarm (20);
  struct events *ev = events_new ();
  struct waiter w[2] = { { .ev = ev }, { .ev = ev, .deadline = now_ns () + 60 * 1000000000LL } };
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    {
      events_reader_init (ev, &w[i].r, 0, 0, NULL);
      pthread_create (&th[i], NULL, wait_one, &w[i]);
    }
  pause_ms (100);
  CHECK (!w[0].done && !w[1].done);
  events_shutdown (ev);
  for (int i = 0; i < 2; i++)
    {
      pthread_join (th[i], NULL);
      CHECK (w[i].ret == -ESHUTDOWN);
    }
  /* and later readers do not wait either */
  struct events_reader r;
  json_t *m;
  events_reader_init (ev, &r, 0, 0, NULL);
  CHECK (events_next (ev, &r, 0, &m) == -ESHUTDOWN);
  events_free (ev);
}

TEST (deadline_ends_the_wait)
{
  alarm (20);
  struct events *ev = events_new ();
  struct events_reader r;
  json_t *m;
  events_reader_init (ev, &r, 0, 0, NULL);
  int64_t start = now_ns ();
  CHECK (events_next (ev, &r, start + 150 * 1000000LL, &m) == 0);
  int64_t took = now_ns () - start;
  CHECK (took >= 150 * 1000000LL && took < 5000 * 1000000LL);
  /* a deadline in the past does not wait at all */
  start = now_ns ();
  CHECK (events_next (ev, &r, 1, &m) == 0);
  CHECK (now_ns () - start < 100 * 1000000LL);
  events_free (ev);
}

TEST (ring_drops_the_oldest)
{
  struct events *ev = events_new ();
  struct events_reader behind;
  events_reader_init (ev, &behind, 0, 0, NULL);
  char id[32];
  for (int i = 0; i < EVENTS_KEEP + 10; i++)
    {
      snprintf (id, sizeof id, "e%d", i);
      events_emit (ev, "image", "tag", id, NULL);
    }
  struct events_reader r;
  json_t *m;
  events_reader_init (ev, &r, 1, 0, NULL);
  int n = 0;
  while (events_next (ev, &r, 1, &m) == 1)
    {
      if (n == 0)
        CHECK_STR (json_string_value (berth_json_path (m, "Actor.ID")), "e10");
      snprintf (id, sizeof id, "e%d", EVENTS_KEEP + 9);
      if (n == EVENTS_KEEP - 1)
        CHECK_STR (json_string_value (berth_json_path (m, "Actor.ID")), id);
      json_decref (m);
      n++;
    }
  CHECK (n == EVENTS_KEEP);
  /* a reader that fell behind goes on with the oldest kept event */
  CHECK (events_next (ev, &behind, 1, &m) == 1);
  CHECK_STR (json_string_value (berth_json_path (m, "Actor.ID")), "e10");
  json_decref (m);
  events_free (ev);
}
