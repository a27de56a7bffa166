
/*
 * Copyright (C) nginx-iot authors
 *
 * The registry's entities as the zone holds them and the store hands them
 * out, and the changes callers ask for.
 */


#ifndef _NGX_IOT_ENTITY_H_INCLUDED_
#define _NGX_IOT_ENTITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"
#include "ngx_iot_id.h"


/* tags are kept as the text of a compact JSON object of strings */
typedef struct {
    u_char                    *data;
    uint32_t                   len;
} ngx_iot_text_t;


typedef struct {
    ngx_iot_link_t             id;
    uint64_t                   team_id;
    uint32_t                   field_mask;
    uint32_t                   ndevices;
    ngx_iot_text_t             tags;
    ngx_iot_link_t             uuid_link;     /* ngx_iot_uuid_key(uuid) */
    u_char                     uuid[NGX_IOT_UUID_SIZE];
    uint32_t                   ngroups;       /* device groups */
} ngx_iot_collection_t;


/* a device's status, as the things dialect names it */
#define NGX_IOT_STATUS_NONE        0
#define NGX_IOT_STATUS_ACTIVE      1
#define NGX_IOT_STATUS_INACTIVE    2


/*
 * A device.  The zone keeps its first NGX_IOT_DEVICE_ZONE_SIZE bytes
 * (objects of exactly that size, ngx_iot_fixed.h): there the UUIDs that
 * devices share (its device type, who made and last changed it) are
 * handles (ngx_iot_intern.h).  Copies out of the zone and the store's rows
 * have the UUIDs themselves in the fields after it; a device in the zone
 * has no such fields: read them from a copy (ngx_iot_device_copy()).
 */
typedef struct {
    ngx_iot_link_t             id;
    ngx_iot_link_t             imsi;
    ngx_iot_link_t             imei;
    uint64_t                   collection_id;
    ngx_iot_text_t             tags;
    uint64_t                   net_at;
    uint64_t                   net_cell;
    uint64_t                   net_imeisv;    /* ident keys, 0: unknown */
    uint64_t                   net_msisdn;

    /*
     * Its UUID, and what the things dialect keeps of it: when it was made
     * and last changed (ms since the epoch), its description and barcode
     * (one text, the description first).
     */
    ngx_iot_link_t             uuid_link;     /* ngx_iot_uuid_key(uuid) */
    u_char                     uuid[NGX_IOT_UUID_SIZE];
    uint64_t                   created_at;
    uint64_t                   modified_at;
    ngx_iot_text_t             about;
    u_char                     net_addr[16];
    u_char                     net_family;
    u_char                     status;        /* NGX_IOT_STATUS_* */
    uint16_t                   description_len;   /* in about */

    /* in the zone: handles of the UUIDs below (0: nil) */
    uint32_t                   spec_ref;
    uint32_t                   created_ref;
    uint32_t                   modified_ref;

    /* not in the zone: its device type, the principals (nil: unknown) */
    u_char                     spec[NGX_IOT_UUID_SIZE];
    u_char                     created_by[NGX_IOT_UUID_SIZE];
    u_char                     modified_by[NGX_IOT_UUID_SIZE];
} ngx_iot_device_t;


#define NGX_IOT_DEVICE_ZONE_SIZE   offsetof(ngx_iot_device_t, spec)


/* the device behind an address, from RADIUS accounting */
typedef struct {
    ngx_iot_link_t             addr;          /* key: IPv4 address */
    uint64_t                   device_id;
    uint64_t                   gateway;       /* ngx_iot_gateway_key() */
    u_char                     session_id[64];
    size_t                     session_id_len;
} ngx_iot_session_t;


typedef struct {
    ngx_iot_slink_t            id;            /* key: the hash */
    u_char                     hash[NGX_IOT_HASH_LEN];
    u_char                     hint[NGX_IOT_TOKEN_HINT_LEN];
    ngx_uint_t                 write;
    ngx_iot_text_t             resource;
    ngx_iot_text_t             tags;
    uint64_t                   user_id;       /* whose token it is */
    uint64_t                   team_id;       /* that user's own team */
} ngx_iot_token_t;


/*
 * A network adapter of a device (the things dialect), one per type and
 * device, keyed by both.  A cellular adapter's IMEI is its device's; a
 * LoRa adapter has a DevEUI, a generic one a DVN UUID, each unique in the
 * registry (ngx_iot_ident.h).  Secrets (shared secrets, JoinEUI, AppKey)
 * are in the store only, never in the zone.
 */
#define NGX_IOT_ADAPTER_CELLULAR   1
#define NGX_IOT_ADAPTER_LORA       2
#define NGX_IOT_ADAPTER_GENERIC    3
#define NGX_IOT_ADAPTER_TYPES      3

#define NGX_IOT_ADAPTER_KEY_LEN    9      /* device id (8 bytes), type */

typedef struct {
    ngx_iot_slink_t            id;            /* key: key[] */
    u_char                     key[NGX_IOT_ADAPTER_KEY_LEN];
    u_char                     type;
    u_char                     secret;        /* the store has a secret */
    uint64_t                   device_id;
    ngx_iot_link_t             ident;         /* DevEUI, DVN UUID */
    u_char                     value[NGX_IOT_UUID_SIZE];
    uint64_t                   created_at;
    uint64_t                   modified_at;
    ngx_iot_text_t             iccid;         /* cellular */
} ngx_iot_adapter_t;


/*
 * A device group (the things dialect): a set of devices of one collection
 * (its project).  Its membership links are entities of their own, keyed
 * by the group and the device, and indexed by either.
 */
typedef struct {
    ngx_iot_link_t             id;
    uint64_t                   collection_id;
    ngx_iot_link_t             uuid_link;     /* ngx_iot_uuid_key(uuid) */
    u_char                     uuid[NGX_IOT_UUID_SIZE];
    u_char                     created_by[NGX_IOT_UUID_SIZE];
    u_char                     modified_by[NGX_IOT_UUID_SIZE];
    uint64_t                   created_at;
    uint64_t                   modified_at;
    uint32_t                   nmembers;
    ngx_iot_text_t             name;
    ngx_iot_text_t             description;
} ngx_iot_group_t;


#define NGX_IOT_MEMBER_KEY_LEN     16     /* group id, device id */

typedef struct {
    ngx_iot_slink_t            id;            /* key: key[] */
    u_char                     key[NGX_IOT_MEMBER_KEY_LEN];
    uint64_t                   group_id;
    uint64_t                   device_id;
    ngx_iot_link_t             by_group;      /* key: group_id */
    ngx_iot_link_t             by_device;     /* key: device_id */
    uint64_t                   created_at;
    u_char                     created_by[NGX_IOT_UUID_SIZE];
} ngx_iot_member_t;


/*
 * A product (a device type with its model), of one collection: an id of
 * its own, its product id (text, unique in the registry), its name, and
 * its model: a JSON object as the dialect that made it checked it (the
 * services, their properties and commands, ...).
 */
#define NGX_IOT_PRODUCT_ID_MAX     36

typedef struct {
    ngx_iot_link_t             id;
    uint64_t                   collection_id;
    ngx_iot_link_t             pid_link;      /* ngx_iot_index_hash(pid) */
    u_char                     pid[NGX_IOT_PRODUCT_ID_MAX];
    uint32_t                   pid_len;
    uint32_t                   ndevices;      /* devices of this product */
    uint64_t                   created_at;
    ngx_iot_text_t             name;
    ngx_iot_text_t             model;
} ngx_iot_product_t;


typedef struct {
    uint64_t                   collection_id;
    ngx_str_t                  pid;
    ngx_str_t                  name;
    ngx_str_t                  model;
} ngx_iot_product_change_t;


/*
 * What the iotda dialect keeps of a device beyond the device itself
 * (ngx_iot_iotda.h): an entity of its own, keyed by the device's id, that
 * only devices with such data have, so that a device stays small.  Its
 * device id and node id (IoTDA's texts) are one text, the device id
 * first; a node id that is an IMEI is the device's IMEI and not kept
 * here.  The rest (fingerprints, tags, extension_info, the shadow) is a
 * JSON text.  Secrets are in the store only.
 */
#define NGX_IOT_IOTDA_DID_MAX      128
#define NGX_IOT_IOTDA_NODE_MAX     64
#define NGX_IOT_IOTDA_IDS_MAX      (NGX_IOT_IOTDA_DID_MAX                    \
                                    + NGX_IOT_IOTDA_NODE_MAX)

#define NGX_IOT_IOTDA_FROZEN       0x01
#define NGX_IOT_IOTDA_INSECURE     0x02   /* secure_access false */
#define NGX_IOT_IOTDA_CERTS        0x04   /* auth_type CERTIFICATES */
#define NGX_IOT_IOTDA_SECRET       0x08   /* the store has a secret */
#define NGX_IOT_IOTDA_SECONDARY    0x10   /* and a secondary one */

typedef struct {
    ngx_iot_link_t             id;            /* key: the device's id */
    ngx_iot_link_t             did_link;      /* hash of its device id */
    ngx_iot_link_t             node_link;     /* hash of a node id kept */
    ngx_iot_link_t             gw_link;       /* key: the gateway's id */
    uint64_t                   product;       /* a product's id; 0: none */
    uint64_t                   gateway;       /* the parent; 0: none */
    uint32_t                   timeout;
    uint16_t                   did_len;       /* in ids */
    u_char                     flags;         /* NGX_IOT_IOTDA_* */
    u_char                     depth;         /* 0: directly connected */
    ngx_iot_text_t             ids;           /* device id, node id */
    ngx_iot_text_t             doc;           /* JSON */
} ngx_iot_iotda_t;


/*
 * A part that a device write also writes (the iotda dialect's entity),
 * in the same write: check under the zone's lock once the device is
 * found or made (d), write with the store, apply with the zone.
 */
struct ngx_iot_write_s;

typedef struct {
    ngx_iot_rc_e             (*check)(struct ngx_iot_write_s *w,
                                      ngx_iot_device_t *d, void *data);
    ngx_int_t                (*write)(struct ngx_iot_write_s *w, void *data);
    void                     (*apply)(struct ngx_iot_write_s *w, void *data);
    void                      *data;
} ngx_iot_device_side_t;


/* a group as a caller makes or changes it (all of it) */
typedef struct {
    uint64_t                   collection_id;
    ngx_str_t                  name;
    ngx_str_t                  description;
    u_char                     by[NGX_IOT_UUID_SIZE];
} ngx_iot_group_change_t;


/* what a caller asks to change; absent parts are left as they are */
typedef struct {
    uint64_t                   collection_id;
    uint64_t                   imsi;
    uint64_t                   imei;
    json_t                    *tags;

    /* who asks (a principal's UUID; nil: unknown) */
    u_char                     by[NGX_IOT_UUID_SIZE];

    /* the things dialect's fields, all of them replaced when things is set */
    ngx_uint_t                 things;
    ngx_uint_t                 status;
    u_char                     spec[NGX_IOT_UUID_SIZE];
    ngx_str_t                  description;
    ngx_str_t                  barcode;

    ngx_iot_device_side_t     *side;      /* NULL: none */
} ngx_iot_device_change_t;


/*
 * An adapter as a caller sets it: all of it (a full update), but an empty
 * secret keeps the one the store has.  The identifier of an adapter that
 * exists cannot change.
 */
typedef struct {
    uint64_t                   device_id;
    uint64_t                   collection_id;   /* the device's */
    ngx_uint_t                 type;
    ngx_uint_t                 create;    /* none of its type may exist */
    uint64_t                   imei;      /* cellular: an ident key */
    u_char                     value[NGX_IOT_UUID_SIZE];  /* LoRa, generic */
    ngx_str_t                  iccid;
    ngx_str_t                  secret;    /* shared secret, or AppKey */
    ngx_str_t                  join_eui;  /* LoRa: secret too */
} ngx_iot_adapter_change_t;


typedef struct {
    uint64_t                   team_id;
    uint32_t                   mask_set;
    uint32_t                   mask_value;
    json_t                    *tags;
} ngx_iot_collection_change_t;


typedef struct {
    ngx_str_t                  resource;
    ngx_int_t                  write;     /* -1 unchanged */
    json_t                    *tags;
    uint64_t                   user_id;   /* a new token's user */
    uint64_t                   team_id;   /* and that user's own team */
} ngx_iot_token_change_t;


/* a device's description and barcode, from its about */
void ngx_iot_device_about(ngx_iot_device_t *d, ngx_str_t *description,
    ngx_str_t *barcode);

/* a membership's key: the group's id, the device's */
void ngx_iot_member_key(u_char *key, uint64_t group_id, uint64_t device_id);

/* an adapter's key: its device's id, its type */
void ngx_iot_adapter_key(u_char *key, uint64_t device_id, ngx_uint_t type);

/* an index key of a UUID (random: its first 8 bytes) */
uint64_t ngx_iot_uuid_key(u_char *uuid);

/* the device's address as text, for the store and for JSON */
u_char *ngx_iot_addr_text(u_char *p, ngx_iot_device_t *d);


#endif /* _NGX_IOT_ENTITY_H_INCLUDED_ */
