/* The API router's path matching. */
#include "unit.h"

#include "daemon/server.h"

static void expect (const char *pattern, const char *path, bool match, const char *p0, const char *p1)
{
  char *params[ROUTE_MAX_PARAMS] = { 0 };
  bool m = route_match (pattern, path, params);
  if (m != match)
    {
      printf ("  %s vs %s: expected %s\n", pattern, path, match ? "a match" : "no match");
      _exit (1);
    }
  if (m && p0)
    CHECK_STR (params[0], p0);
  if (m && p1)
    CHECK_STR (params[1], p1);
  for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
    free (params[i]);
}

TEST (literal_routes)
{
  expect ("/_ping", "/_ping", true, NULL, NULL);
  expect ("/_ping", "/_pong", false, NULL, NULL);
  expect ("/images/json", "/images/json", true, NULL, NULL);
  expect ("/images/json", "/images/json/x", false, NULL, NULL);
  expect ("/images/json", "/images", false, NULL, NULL);
}

TEST (captures)
{
  expect ("/containers/{id}/json", "/containers/abc/json", true, "abc", NULL);
  expect ("/containers/{id}/json", "/containers//json", false, NULL, NULL);
  expect ("/containers/{id}/exec/{x}", "/containers/a/exec/b", true, "a", "b");
}

TEST (greedy_captures)
{
  expect ("/images/{name*}/json", "/images/busybox/json", true, "busybox", NULL);
  expect ("/images/{name*}/json", "/images/example.com:5000/a/b:1/json", true, "example.com:5000/a/b:1", NULL);
  expect ("/images/{name*}/json", "/images/json", false, NULL, NULL);
  expect ("/images/{name*}", "/images/a/b", true, "a/b", NULL);
  expect ("/images/{name*}/tag", "/images/a/b/json", false, NULL, NULL);
}

TEST (versions)
{
  char v[16];
  CHECK_STR (route_strip_version ("/v1.44/images/json", v, sizeof v), "/images/json");
  CHECK_STR (v, "1.44");
  CHECK_STR (route_strip_version ("/images/json", v, sizeof v), "/images/json");
  CHECK_STR (v, "");
  CHECK_STR (route_strip_version ("/v1.24/_ping", v, sizeof v), "/_ping");
  CHECK_STR (route_strip_version ("/version", v, sizeof v), "/version");
  CHECK_STR (v, "");
  CHECK_STR (route_strip_version ("/v1.44", v, sizeof v), "/");
}
