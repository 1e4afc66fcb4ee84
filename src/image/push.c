#include "image/dist-internal.h"
int image_push (struct image_store *s, const char *name, const char *tag, const struct dist_options *opts,
                berth_err *err)
{
  (void) s, (void) name, (void) tag, (void) opts;
  return berth_fail (err, ENOSYS, "push: WIP");
}
