/* Unit tests of the registry client's pure parts (src/image): which hosts
 * speak plain HTTP, and the docker CLI's X-Registry-Auth header. */
#include "image/dist-internal.h"
#include "unit.h"

static char *insecure_list[] = { "reg.example:5000", "10.1.0.0/16", "plain.example", NULL };

TEST (loopback_hosts_are_insecure)
{
  CHECK (dist_host_insecure ("localhost", NULL));
  CHECK (dist_host_insecure ("localhost:5000", NULL));
  CHECK (dist_host_insecure ("127.0.0.1:5000", NULL));
  CHECK (dist_host_insecure ("127.3.2.1", NULL));
  CHECK (dist_host_insecure ("[::1]:5000", NULL));
  CHECK (!dist_host_insecure ("docker.io", NULL));
  CHECK (!dist_host_insecure ("128.0.0.1:5000", NULL));
  CHECK (!dist_host_insecure ("localhost.example.com", NULL));
}

TEST (insecure_registries_by_name_port_and_cidr)
{
  CHECK (dist_host_insecure ("reg.example:5000", insecure_list));
  CHECK (!dist_host_insecure ("reg.example:5001", insecure_list));
  CHECK (dist_host_insecure ("plain.example:443", insecure_list));
  CHECK (dist_host_insecure ("10.1.200.3:5000", insecure_list));
  CHECK (!dist_host_insecure ("10.2.0.1:5000", insecure_list));
  CHECK (!dist_host_insecure ("other.example", insecure_list));
}

TEST (registry_auth_header)
{
  struct dist_auth a;
  berth_err err = NULL;
  /* {"username":"alice","password":"s3cret?>","serveraddress":"r:5000"}
   * in base64url (the '?>' makes a '_' and '-' appear), without padding */
  const char *h = "eyJ1c2VybmFtZSI6ImFsaWNlIiwicGFzc3dvcmQiOiJzM2NyZXQ_PiIsInNlcnZlcmFkZHJlc3MiOiJyOjUwMDAifQ";
  CHECK (dist_auth_decode (h, &a, &err) == 0);
  CHECK (a.username && strcmp (a.username, "alice") == 0);
  CHECK (a.password && strcmp (a.password, "s3cret?>") == 0);
  CHECK (a.identity_token == NULL);
  dist_auth_free (&a);
  CHECK (dist_auth_decode ("e30=", &a, &err) == 0); /* {} */
  CHECK (a.username == NULL && a.password == NULL);
  CHECK (dist_auth_decode (NULL, &a, &err) == 0);
  CHECK (dist_auth_decode ("!!!not base64", &a, &err) < 0);
  CHECK (err != NULL);
  berth_error_free (&err);
  CHECK (dist_auth_decode ("WzFd", &a, &err) < 0); /* [1]: not an object */
  berth_error_free (&err);
}

