#include "client.h"
#include "common/cleanup.h"

#include <stdio.h>

static int fail (berth_err *err)
{
  fprintf (stderr, "%s\n", (*err)->msg);
  berth_error_free (err);
  return 1;
}

int cmd_version (struct client *c, int argc, char **argv)
{
  (void) argc;
  (void) argv;
  berth_err err = NULL;
  printf ("Client: berth %s (commit %s)\n", BERTH_VERSION, BERTH_COMMIT);
  cleanup_json json_t *v = client_json (c, "GET", "/version", NULL, &err);
  if (v == NULL)
    return fail (&err);
  printf ("Server: berthd %s (API %s, minimum %s, %s/%s, kernel %s)\n", berth_json_str (v, "Version"),
          berth_json_str (v, "ApiVersion"), berth_json_str (v, "MinAPIVersion"), berth_json_str (v, "Os"),
          berth_json_str (v, "Arch"), berth_json_str (v, "KernelVersion"));
  return 0;
}

int cmd_info (struct client *c, int argc, char **argv)
{
  (void) argc;
  (void) argv;
  berth_err err = NULL;
  cleanup_json json_t *i = client_json (c, "GET", "/info", NULL, &err);
  if (i == NULL)
    return fail (&err);
  printf ("Containers: %lld\nImages: %lld\nServer Version: %s\nStorage Driver: %s\nCgroup Driver: %s\n"
          "Cgroup Version: %s\nKernel Version: %s\nOperating System: %s\nCPUs: %lld\nRoot Dir: %s\nID: %s\n",
          (long long) berth_json_int (i, "Containers", 0), (long long) berth_json_int (i, "Images", 0),
          berth_json_str (i, "ServerVersion"), berth_json_str (i, "Driver"), berth_json_str (i, "CgroupDriver"),
          berth_json_str (i, "CgroupVersion"), berth_json_str (i, "KernelVersion"),
          berth_json_str (i, "OperatingSystem"), (long long) berth_json_int (i, "NCPU", 0),
          berth_json_str (i, "DockerRootDir"), berth_json_str (i, "ID"));
  return 0;
}
