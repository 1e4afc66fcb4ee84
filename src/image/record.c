/* image_record: make a pulled image visible (distribution.h).  The one
 * refs.json commit of a pull, done by the caller under its store lock. */
#include "image/distribution.h"
#include "image/image-internal.h"

#include <errno.h>
#include <string.h>

int image_record (struct image_store *s, const char *id, const char *manifest, char **keys, bool *fresh,
                  berth_err *err)
{
  if (!img_digest_valid (id) || !img_digest_valid (manifest) || !img_blob_exists (s, id)
      || !img_blob_exists (s, manifest))
    return berth_fail (err, EINVAL, "record image %s: its config or manifest is not in the store", id);
  json_t *db = img_db_copy (s, err);
  if (db == NULL)
    return berth_error_ret (*err);
  /* An image already known keeps its manifest (the blobs it names are
   * the ones `docker rmi` will remove). */
  if (img_db_image (db, id, true) == NULL)
    img_db_add_image (db, id, manifest);
  json_object_del (img_db_image (db, id, true), "hidden");
  bool changed = false;
  for (char **k = keys; k && *k; k++)
    {
      const char *old = json_string_value (json_object_get (img_db_refs (db), *k));
      changed |= old == NULL || strcmp (old, id) != 0;
      json_object_set_new (img_db_refs (db), *k, json_string (id));
    }
  if (fresh)
    *fresh = changed;
  return img_db_commit (s, db, err);
}
