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

TEST (registry_config_header)
{
  berth_err err = NULL;
  struct dist_auth a;
  /* {"https://index.docker.io/v1/":{"username":"hub","password":"hp"},"localhost:5000":{"auth":"Ym9iOnBhOjU1"},"http://r.example:8080/v2/":{"username":"carol","identitytoken":"tok"}}
   * in base64url, without padding ("auth" is base64 of "bob:pa:55") */
  const char *h = "eyJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iOnsidXNlcm5hbWUiOiJodWIiLCJwYXNzd29yZCI6ImhwIn0sImxvY2FsaG9zdDo1MDAwIjp7ImF1dGgiOiJZbTlpT25CaE9qVTEifSwiaHR0cDovL3IuZXhhbXBsZTo4MDgwL3YyLyI6eyJ1c2VybmFtZSI6ImNhcm9sIiwiaWRlbnRpdHl0b2tlbiI6InRvayJ9fQ";
  CHECK (dist_auth_config_lookup (h, "docker.io", &a, &err) == 0);
  CHECK (a.username && strcmp (a.username, "hub") == 0 && a.password && strcmp (a.password, "hp") == 0);
  dist_auth_free (&a);
  CHECK (dist_auth_config_lookup (h, "localhost:5000", &a, &err) == 0);
  CHECK (a.username && strcmp (a.username, "bob") == 0);
  CHECK (a.password && strcmp (a.password, "pa:55") == 0);
  dist_auth_free (&a);
  CHECK (dist_auth_config_lookup (h, "r.example:8080", &a, &err) == 0);
  CHECK (a.username && strcmp (a.username, "carol") == 0 && a.password == NULL);
  CHECK (a.identity_token && strcmp (a.identity_token, "tok") == 0);
  dist_auth_free (&a);
  /* no entry, no header: no credentials */
  CHECK (dist_auth_config_lookup (h, "localhost:5001", &a, &err) == 0);
  CHECK (a.username == NULL && a.password == NULL && a.identity_token == NULL);
  CHECK (dist_auth_config_lookup (NULL, "docker.io", &a, &err) == 0 && a.username == NULL);
  CHECK (err == NULL);
  /* bad base64, not an object, an "auth" without a colon */
  CHECK (dist_auth_config_lookup ("%%%", "docker.io", &a, &err) < 0 && err != NULL);
  berth_error_free (&err);
  CHECK (dist_auth_config_lookup ("WzFd", "docker.io", &a, &err) < 0);
  berth_error_free (&err);
  /* {"p":{"password":"x","auth":"dTpw"}}: "auth" (u:p) wins over a lone password */
  CHECK (dist_auth_config_lookup ("eyJwIjp7InBhc3N3b3JkIjoieCIsImF1dGgiOiJkVHB3In19", "p", &a, &err) == 0);
  CHECK (a.username && strcmp (a.username, "u") == 0 && a.password && strcmp (a.password, "p") == 0);
  dist_auth_free (&a);
  /* {"h":{"auth":"bm9jb2xvbg=="}}: "nocolon" */
  CHECK (dist_auth_config_lookup ("eyJoIjp7ImF1dGgiOiJibTlqYjJ4dmJnPT0ifX0", "h", &a, &err) < 0);
  CHECK (a.username == NULL);
  berth_error_free (&err);
}

