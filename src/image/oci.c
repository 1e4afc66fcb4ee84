/* OCI image manifests, indexes and descriptors. */
#include "image/image-internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

const char *img_layer_media_type (const char *file)
{
  static const unsigned char gzip_magic[] = { 0x1f, 0x8b };
  static const unsigned char zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
  unsigned char head[4] = { 0 };
  cleanup_close int fd = open (file, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, head, sizeof head) : -1;
  if (n >= 2 && memcmp (head, gzip_magic, sizeof gzip_magic) == 0)
    return IMG_MT_OCI_LAYER "+gzip";
  if (n >= 4 && memcmp (head, zstd_magic, sizeof zstd_magic) == 0)
    return IMG_MT_OCI_LAYER "+zstd";
  return IMG_MT_OCI_LAYER;
}

json_t *img_descriptor (const char *media_type, const char *digest, int64_t size)
{
  return json_pack ("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t) size);
}

json_t *img_manifest_new (const char *config_digest, int64_t config_size, json_t *layers)
{
  return json_pack ("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType", IMG_MT_OCI_MANIFEST, "config",
                    img_descriptor (IMG_MT_OCI_CONFIG, config_digest, config_size), "layers", layers);
}

int img_descriptor_check (json_t *desc, const char *where, berth_err *err)
{
  if (!json_is_object (desc))
    return berth_fail (err, 0, "%s: expected a descriptor object", where);
  const char *digest = berth_json_str (desc, "digest");
  if (!img_digest_valid (digest))
    return berth_fail (err, 0, "%s: digest: expected sha256:<64 hex digits>, got \"%s\"", where,
                       digest ? digest : "");
  if (berth_json_int (desc, "size", -1) < 0)
    return berth_fail (err, 0, "%s: size: expected a non-negative integer", where);
  return berth_json_check_type (desc, "mediaType", JSON_STRING, where, err);
}

bool img_media_type_is_index (const char *mt)
{
  return mt && (strcmp (mt, IMG_MT_OCI_INDEX) == 0 || strcmp (mt, IMG_MT_DOCKER_LIST) == 0);
}

bool img_media_type_is_manifest (const char *mt)
{
  return mt && (strcmp (mt, IMG_MT_OCI_MANIFEST) == 0 || strcmp (mt, IMG_MT_DOCKER_MANIFEST) == 0);
}

const char *img_host_arch (void)
{
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "amd64";
#endif
}

static bool platform_matches (json_t *desc)
{
  json_t *p = berth_json_obj (desc, "platform");
  const char *os = berth_json_str (p, "os"), *arch = berth_json_str (p, "architecture");
  return os && arch && strcmp (os, "linux") == 0 && strcmp (arch, img_host_arch ()) == 0;
}

/* linux/<host arch>; an index of one entry without a platform is taken
 * as it is (single-platform exports write those). */
json_t *img_index_pick (json_t *manifests)
{
  size_t i;
  json_t *d;
  json_array_foreach (manifests, i, d)
    if (platform_matches (d))
      return d;
  if (json_array_size (manifests) == 1 && berth_json_obj (json_array_get (manifests, 0), "platform") == NULL)
    return json_array_get (manifests, 0);
  return NULL;
}
