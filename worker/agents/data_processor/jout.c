/* jout — result building with one failure flag (see jout.h). */
#include "worker/agents/data_processor/jout.h"

#include <math.h>

cJSON *jout_item(struct jout *o, cJSON *obj, const char *name, cJSON *item)
{
    if (!item || !obj) {
        cJSON_Delete(item);
        o->failed = true;
        return NULL;
    }
    if (name ? !cJSON_AddItemToObject(obj, name, item) : !cJSON_AddItemToArray(obj, item)) {
        cJSON_Delete(item);
        o->failed = true;
        return NULL;
    }
    return item;
}

void jout_num(struct jout *o, cJSON *obj, const char *name, double value)
{
    jout_item(o, obj, name, isfinite(value) ? cJSON_CreateNumber(value) : cJSON_CreateNull());
}

void jout_str(struct jout *o, cJSON *obj, const char *name, const char *value)
{
    jout_item(o, obj, name, cJSON_CreateString(value));
}

void jout_bool(struct jout *o, cJSON *obj, const char *name, bool value)
{
    jout_item(o, obj, name, cJSON_CreateBool(value));
}

void jout_null(struct jout *o, cJSON *obj, const char *name)
{
    jout_item(o, obj, name, cJSON_CreateNull());
}

cJSON *jout_obj(struct jout *o, cJSON *obj, const char *name)
{
    return jout_item(o, obj, name, cJSON_CreateObject());
}

cJSON *jout_arr(struct jout *o, cJSON *obj, const char *name)
{
    return jout_item(o, obj, name, cJSON_CreateArray());
}
