/* Hostile and broken archives for image_load and image_import: each must
 * fail with a clear message, write nothing outside the store (the
 * sentinel folder outside/ stays untouched), leave the store's tmp/ empty
 * and keep no blob, layer or image of the failed load.  The fixture comes
 * from test_image.c. */
#define IMAGE_FIXTURE_ONLY
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_image.c"

/* A docker-archive of the test image in which the member NAME of the
 * usual ones is replaced by EXTRA (NULL: just add EXTRA). */
static void write_variant (const char *path, struct test_image *ti, const char *manifest, const struct ent *extra,
                           size_t n_extra)
{
  char *config_name = xasprintf ("%s.json", ti->id + 7);
  char *default_manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":[\"evil:1\"],"
                                      "\"Layers\":[\"l1/layer.tar\",\"l2/layer.tar\"]}]",
                                      config_name);
  struct ent base[] = {
    { .name = "l1/layer.tar", .data = ti->l1, .len = ti->l1_len, .type = 'f' },
    { .name = "l2/layer.tar", .data = ti->l2, .len = ti->l2_len, .type = 'f' },
    { .name = config_name, .data = ti->config, .len = ti->config_len, .type = 'f' },
  };
  struct ent all[16];
  size_t n = 0;
  for (size_t i = 0; i < n_extra; i++)
    all[n++] = extra[i];
  for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
    all[n++] = base[i];
  const char *m = manifest ? manifest : default_manifest;
  all[n++] = (struct ent) { .name = "manifest.json", .data = m, .len = strlen (m), .type = 'f' };
  write_tar (path, NULL, all, n);
  free (config_name);
  free (default_manifest);
}

static void expect_failure (struct fx *fx, const char *path, const char *msg)
{
  char *got = load_fails (fx, path);
  if (getenv ("BERTH_TEST_VERBOSE"))
    printf ("  %s: %s\n", path, got);
  CHECK_CONTAINS (got, msg);
  free (got);
  check_contained (fx);
  check_store_empty (fx);
}

TEST (hostile_dotdot_entry)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  struct ent evil[] = { F ("../outside/pwned", "x"), F ("a/../../pwned", "x") };
  write_variant ("evil.tar", &ti, NULL, evil, 1);
  expect_failure (&fx, "evil.tar", "path ../outside/pwned leaves the archive");
  write_variant ("evil2.tar", &ti, NULL, evil + 1, 1);
  expect_failure (&fx, "evil2.tar", "leaves the archive");
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (hostile_absolute_entry)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  char *abs = xasprintf ("%s/pwned", fx.outside);
  struct ent evil[] = { { .name = abs, .data = "x", .len = 1, .type = 'f' } };
  write_variant ("evil.tar", &ti, NULL, evil, 1);
  expect_failure (&fx, "evil.tar", "absolute path");
  free (abs);
  free_test_image (&ti);
  fx_done (&fx);
}

/* A symlink out of the archive, then used as a folder by manifest.json
 * and by a later entry. */
TEST (hostile_symlink_escape)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  struct ent rel[] = { L ("escape", "../outside"), F ("escape/pwned", "x") };
  write_variant ("evil.tar", &ti, NULL, rel, 2);
  expect_failure (&fx, "evil.tar", "symlink escape points outside the archive: ../outside");
  struct ent abs[] = { L ("escape", fx.outside) };
  char *manifest = xasprintf ("[{\"Config\":\"escape/marker\",\"RepoTags\":null,\"Layers\":[]}]");
  write_variant ("evil2.tar", &ti, manifest, abs, 1);
  expect_failure (&fx, "evil2.tar", "points outside the archive");
  /* a symlink inside the archive is fine, and so is ".." inside */
  struct ent ok[] = { L ("dir/link", "../l1/layer.tar") };
  char *config_name = xasprintf ("%s.json", ti.id + 7);
  free (manifest);
  manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"dir/link\",\"l2/layer.tar\"]}]",
                        config_name);
  write_variant ("ok.tar", &ti, manifest, ok, 1);
  free_strv (load_file (&fx, "ok.tar"));
  check_contained (&fx);
  free (config_name);
  free (manifest);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (hostile_hardlink_escape)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  struct ent evil[] = { H ("h", "../../etc/passwd") };
  write_variant ("evil.tar", &ti, NULL, evil, 1);
  expect_failure (&fx, "evil.tar", "hardlink h: path ../../etc/passwd leaves the archive");
  struct ent evil2[] = { H ("h", "/etc/passwd") };
  write_variant ("evil2.tar", &ti, NULL, evil2, 1);
  expect_failure (&fx, "evil2.tar", "absolute path /etc/passwd");
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (hostile_device_in_archive)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  struct ent dev[] = { { .name = "dev/null", .type = 'c', .major = 1, .minor = 3 } };
  write_variant ("evil.tar", &ti, NULL, dev, 1);
  expect_failure (&fx, "evil.tar", "device node dev/null in archive is not allowed");
  struct ent blk[] = { { .name = "sda", .type = 'b', .major = 8, .minor = 0 } };
  write_variant ("evil2.tar", &ti, NULL, blk, 1);
  expect_failure (&fx, "evil2.tar", "device node sda in archive is not allowed");
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (broken_missing_file)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  char *config_name = xasprintf ("%s.json", ti.id + 7);
  char *manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l1/layer.tar\","
                              "\"l9/layer.tar\"]}]",
                              config_name);
  write_variant ("broken.tar", &ti, manifest, NULL, 0);
  expect_failure (&fx, "broken.tar", "manifest.json[0].Layers[1]: l9/layer.tar is missing from the archive");
  free (manifest);
  manifest = xasprintf ("[{\"Config\":\"nope.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[]}]");
  write_variant ("broken2.tar", &ti, manifest, NULL, 0);
  expect_failure (&fx, "broken2.tar", "nope.json is missing from the archive");
  free (manifest);
  manifest = xasprintf ("[{\"Config\":\"../%s\",\"RepoTags\":[\"x:1\"],\"Layers\":[]}]", config_name);
  write_variant ("broken3.tar", &ti, manifest, NULL, 0);
  expect_failure (&fx, "broken3.tar", "leaves the archive");
  free (manifest);
  /* neither format */
  struct ent only[] = { F ("hello", "world") };
  write_tar ("none.tar", NULL, only, 1);
  expect_failure (&fx, "none.tar", "neither manifest.json nor index.json");
  free (config_name);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (broken_config_digest)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  /* the config content no longer matches its name */
  char *good_id = strdup (ti.id);
  char *name = xasprintf ("%s.json", good_id + 7);
  set_config (&ti, "tampered", ti.d1, ti.d2);
  char *manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l1/layer.tar\","
                              "\"l2/layer.tar\"]}]",
                              name);
  struct ent renamed[] = { { .name = name, .data = ti.config, .len = ti.config_len, .type = 'f' } };
  write_variant ("evil.tar", &ti, manifest, renamed, 1);
  char *want = xasprintf ("digest mismatch for %s: expected %s, got %s", name, good_id, ti.id);
  expect_failure (&fx, "evil.tar", want);
  free (want);
  free (manifest);

  /* an OCI-style blob name: checked while it is spooled */
  char *blob_name = xasprintf ("blobs/sha256/%s", good_id + 7);
  manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":[\"x:1\"],\"Layers\":[]}]", blob_name);
  struct ent blob[] = { { .name = blob_name, .data = ti.config, .len = ti.config_len, .type = 'f' } };
  write_variant ("evil2.tar", &ti, manifest, blob, 1);
  want = xasprintf ("digest mismatch for %s: expected %s, got %s", blob_name, good_id, ti.id);
  expect_failure (&fx, "evil2.tar", want);
  free (want);
  free (manifest);
  free (blob_name);
  free (name);
  free (good_id);
  free_test_image (&ti);
  fx_done (&fx);
}

/* The second layer lies about its diff id: the first one, already
 * unpacked, must be rolled back too. */
TEST (broken_layer_diff_id)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  char *real = strdup (ti.d2);
  char *fake = xasprintf ("sha256:%064d", 0);
  set_config (&ti, "lying", ti.d1, fake);
  write_variant ("evil.tar", &ti, NULL, NULL, 0);
  char *want = xasprintf ("digest mismatch for l2/layer.tar: expected %s, got %s", fake, real);
  expect_failure (&fx, "evil.tar", want);
  free (want);

  /* the diff id of a layer the store has already is checked all the same */
  set_config (&ti, "good", ti.d1, real);
  write_variant ("good.tar", &ti, NULL, NULL, 0);
  free_strv (load_file (&fx, "good.tar"));
  set_config (&ti, "lying-again", real, ti.d1);
  write_variant ("evil2.tar", &ti, NULL, NULL, 0);
  char *msg = load_fails (&fx, "evil2.tar");
  CHECK_CONTAINS (msg, "digest mismatch for l1/layer.tar");
  free (msg);
  check_contained (&fx);
  free (real);
  free (fake);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (broken_json)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  write_variant ("bad.tar", &ti, "[{\"Config\": ", NULL, 0);
  expect_failure (&fx, "bad.tar", "manifest.json: invalid JSON");
  write_variant ("bad2.tar", &ti, "{\"Config\":\"x\"}", NULL, 0);
  expect_failure (&fx, "bad2.tar", "manifest.json: expected a non-empty array");
  write_variant ("bad3.tar", &ti, "[{\"Config\":1,\"Layers\":[]}]", NULL, 0);
  expect_failure (&fx, "bad3.tar", "expected \"Config\" (a string)");
  char *config_name = xasprintf ("%s.json", ti.id + 7);
  char *manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":[\"Bad:Tag!\"],\"Layers\":[]}]", config_name);
  write_variant ("bad4.tar", &ti, manifest, NULL, 0);
  expect_failure (&fx, "bad4.tar", "RepoTags[0]");
  free (manifest);
  /* layer count and diff ids disagree */
  manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"l1/layer.tar\"]}]", config_name);
  write_variant ("bad5.tar", &ti, manifest, NULL, 0);
  expect_failure (&fx, "bad5.tar", "the config has 2 layers (rootfs.diff_ids) but the manifest lists 1");
  free (manifest);
  /* a config that is not JSON, under its right digest */
  struct test_image junk = ti;
  junk.config = strdup ("not json");
  junk.config_len = 8;
  char jid[72];
  sha256 (junk.config, junk.config_len, jid);
  memcpy (junk.id, jid, sizeof jid);
  write_variant ("bad6.tar", &junk, NULL, NULL, 0);
  expect_failure (&fx, "bad6.tar", "invalid JSON");
  free (junk.config);
  free (config_name);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (broken_not_a_tar)
{
  struct fx fx;
  fx_init (&fx);
  char junk[4096];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (char) (i * 7 + 3);
  spit ("junk", junk, sizeof junk);
  expect_failure (&fx, "junk", "read the image archive");
  spit ("empty", "", 0);
  expect_failure (&fx, "empty", "read the image archive");
  /* a truncated archive */
  struct test_image ti;
  make_test_image (&ti);
  write_variant ("full.tar", &ti, NULL, NULL, 0);
  size_t n = 0;
  char *full = slurp ("full.tar", &n);
  spit ("cut.tar", full, 1500);
  expect_failure (&fx, "cut.tar", "read");
  free (full);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (broken_json_too_large)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  size_t big = 17 << 20;
  char *manifest = malloc (big + 1);
  memset (manifest, ' ', big);
  manifest[0] = '[';
  manifest[big - 1] = ']';
  manifest[big] = '\0';
  write_variant ("big.tar", &ti, manifest, NULL, 0);
  expect_failure (&fx, "big.tar", "manifest.json is too large");
  free (manifest);
  free_test_image (&ti);
  fx_done (&fx);
}

/* Hostile layer tars: unpacked in a chroot, and refused on sight. */
static void layer_variant (struct fx *fx, const struct ent *ents, size_t n, const char *msg)
{
  struct test_image ti;
  make_test_image (&ti);
  write_tar ("bad-layer.tar", NULL, ents, n);
  free (ti.l1);
  ti.l1 = slurp ("bad-layer.tar", &ti.l1_len);
  sha256 (ti.l1, ti.l1_len, ti.d1);
  set_config (&ti, "bad layer", ti.d1, ti.d2);
  write_variant ("evil.tar", &ti, NULL, NULL, 0);
  expect_failure (fx, "evil.tar", msg);
  free_test_image (&ti);
}

TEST (hostile_layers)
{
  struct fx fx;
  fx_init (&fx);
  struct ent dev[] = { D ("dev"), { .name = "dev/sda", .type = 'b', .major = 8, .minor = 0 } };
  layer_variant (&fx, dev, 2, "device node dev/sda in layer is not allowed");
  struct ent chr[] = { { .name = "mem", .type = 'c', .major = 1, .minor = 1 } };
  layer_variant (&fx, chr, 1, "device node mem in layer is not allowed");
  struct ent dotdot[] = { F ("a", "x"), F ("../../../../../../tmp/pwned", "x") };
  layer_variant (&fx, dotdot, 2, "leaves the layer");
  struct ent hardlink[] = { F ("a", "x"), H ("b", "../../../../etc/passwd") };
  layer_variant (&fx, hardlink, 2, "hardlink b in layer points outside the layer");
  /* through a symlink: refused by libarchive, and the chroot holds anyway */
  char *outside_rel = xasprintf ("../../../../../../../../..%s", fx.outside);
  struct ent through[] = { L ("link", outside_rel), F ("link/pwned", "x") };
  layer_variant (&fx, through, 2, "link/pwned");
  struct ent through_abs[] = { L ("link", fx.outside), F ("link/pwned", "x") };
  layer_variant (&fx, through_abs, 2, "link/pwned");
  /* absolute hardlink target: relative to the layer, where it is missing */
  struct ent abs_link[] = { H ("passwd", "/etc/passwd") };
  layer_variant (&fx, abs_link, 1, "passwd");
  /* not a tar */
  struct ent none[] = { F ("x", "y") };
  struct test_image ti;
  make_test_image (&ti);
  free (ti.l1);
  ti.l1 = strdup ("this is not a tar file, not even close to one, no header here at all...");
  ti.l1_len = strlen (ti.l1);
  sha256 (ti.l1, ti.l1_len, ti.d1);
  set_config (&ti, "not a tar", ti.d1, ti.d2);
  write_variant ("evil.tar", &ti, NULL, none, 0);
  expect_failure (&fx, "evil.tar", "unpack l1/layer.tar");
  free_test_image (&ti);
  free (outside_rel);
  fx_done (&fx);
}

/* overlayfs xattrs come only from whiteouts, never from the tar itself. */
TEST (layer_overlay_xattrs_dropped)
{
  struct fx fx;
  fx_init (&fx);
  struct archive *a = archive_write_new ();
  archive_write_set_format_pax (a);
  CHECK (archive_write_open_filename (a, "x.tar") == ARCHIVE_OK);
  struct archive_entry *ae = archive_entry_new ();
  archive_entry_set_pathname (ae, "d");
  archive_entry_set_filetype (ae, AE_IFDIR);
  archive_entry_set_perm (ae, 0755);
  archive_entry_xattr_add_entry (ae, "trusted.overlay.redirect", "/etc", 4);
  archive_entry_xattr_add_entry (ae, "user.keep", "1", 1);
  CHECK (archive_write_header (a, ae) == ARCHIVE_OK);
  archive_entry_free (ae);
  CHECK (archive_write_close (a) == ARCHIVE_OK);
  archive_write_free (a);
  char *id = NULL;
  cleanup_close int fd = open ("x.tar", O_RDONLY | O_CLOEXEC);
  CHECK_OK (image_import (fx.s, fd, NULL, NULL, NULL, &id, err_));
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, id, &dirs, err_));
  char *d = xasprintf ("%s/d", dirs[0]);
  char v[16];
  CHECK (lgetxattr (d, "trusted.overlay.redirect", v, sizeof v) < 0);
  CHECK (lgetxattr (d, "user.keep", v, sizeof v) == 1);
  free (d);
  free (id);
  free_strv (dirs);
  fx_done (&fx);
}

TEST (hostile_oci_layout)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  char cfg_digest[72];
  sha256 (ti.config, ti.config_len, cfg_digest);
  char *cfg_name = xasprintf ("blobs/sha256/%s", cfg_digest + 7);
  /* a descriptor whose size lies */
  char *manifest = xasprintf ("{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\",\"size\":%zu},\"layers\":[]}",
                              cfg_digest, ti.config_len + 1);
  char man_digest[72];
  sha256 (manifest, strlen (manifest), man_digest);
  char *man_name = xasprintf ("blobs/sha256/%s", man_digest + 7);
  char *index = xasprintf ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                           "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu}]}",
                           man_digest, strlen (manifest));
  struct ent ents[] = {
    F ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"),
    F ("index.json", index),
    { .name = man_name, .data = manifest, .len = strlen (manifest), .type = 'f' },
    { .name = cfg_name, .data = ti.config, .len = ti.config_len, .type = 'f' },
  };
  write_tar ("oci.tar", NULL, ents, 4);
  expect_failure (&fx, "oci.tar", "size mismatch");
  /* a multi-platform index without linux/amd64 */
  free (index);
  index = xasprintf ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                     "\"application/vnd.oci.image.index.v1+json\",\"digest\":\"%s\",\"size\":%zu}]}",
                     man_digest, strlen (manifest));
  char *inner = xasprintf ("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"%s\",\"size\":1,"
                           "\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}}]}",
                           man_digest);
  ents[1].data = index;
  ents[1].len = strlen (index);
  ents[2].data = inner;
  ents[2].len = strlen (inner);
  write_tar ("oci2.tar", NULL, ents, 4);
  expect_failure (&fx, "oci2.tar", "digest mismatch"); /* the inner index is not under its digest */
  char inner_digest[72];
  sha256 (inner, strlen (inner), inner_digest);
  char *inner_name = xasprintf ("blobs/sha256/%s", inner_digest + 7);
  free (index);
  index = xasprintf ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                     "\"application/vnd.oci.image.index.v1+json\",\"digest\":\"%s\",\"size\":%zu}]}",
                     inner_digest, strlen (inner));
  ents[1].data = index;
  ents[1].len = strlen (index);
  ents[2].name = inner_name;
  write_tar ("oci3.tar", NULL, ents, 4);
  expect_failure (&fx, "oci3.tar", "has no manifest for linux/amd64");
  free (inner_name);
  free (inner);
  free (index);
  free (manifest);
  free (man_name);
  free (cfg_name);
  free_test_image (&ti);
  fx_done (&fx);
}
