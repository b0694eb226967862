/* Cluster mode inside the service (service/cluster.c): this node's presence
 * in the shared store, the other nodes as this node last saw them, placement
 * and the secret nodes sign their calls with. Not a public header: the
 * service's files include it; api/ uses what service.h declares. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

struct vol_service;
struct vol_service_config;

/* How long a node's session (lease) lives without a renewal, and how often
 * a node renews it and looks at the others. A node that stops is down for
 * every other node at most NODE_TTL + NODE_BEAT seconds later. */
#define VOL_NODE_TTL 10
#define VOL_NODE_BEAT 2

/* Joins the cluster when cfg names a node: checks the store is shared, reads
 * the cluster secret, records the node (kind "node": name, address,
 * draining), starts its session document (kind "node-alive") and the
 * heartbeat thread. Without a node, does nothing. Returns 0 or < 0 with a
 * message naming what is missing. */
int vol_cluster_open(struct vol_service *s, const struct vol_service_config *cfg, struct vol_error *err);
/* Stops the heartbeat; the session lapses by itself (or is dropped by the
 * store's close). Accepts a service without a cluster. */
void vol_cluster_close(struct vol_service *s);

/* Whether volume v (its recorded node) lives on this node: always on a
 * single node; in a cluster, when v->node is this node's name. */
bool vol_cluster_is_local(const struct vol_service *s, const char *node);

/* When this node must not change state: its session lapsed and could not be
 * renewed (etcd lost). Returns 0, or -EAGAIN with the reason. */
int vol_cluster_fence(struct vol_service *s, struct vol_error *err);

/* The state of node as this node last saw it (at most VOL_NODE_BEAT
 * seconds ago): "up", "draining" or "down" (also for a node never seen),
 * into out. */
void vol_cluster_node_state(struct vol_service *s, const char *node, char out[16]);

/* Counts a volume created on (+1) or removed from (-1) this node. */
void vol_cluster_count(struct vol_service *s, int delta);
