/* A stand-in for Debian 12's libgupnp-igd-1.0.so.4, loaded (LD_LIBRARY_PATH) only by the test
 * that publishes with simple-whip-client (tests/whip_client.py).
 *
 * Why: whip-client links libsoup 2.4, and GStreamer's libnice plugin pulls libsoup 3 in through
 * the real libgupnp-igd (UPnP port mapping, which a loopback test never uses). Both in one
 * process make libsoup abort at start ("libsoup2 symbols detected"). libnice needs only these
 * four functions and an object with two signals it connects to; none of them ever fires.
 * Written without GLib's headers (Debian's libglib2.0-dev is not needed): the few types are
 * declared by hand. */
typedef unsigned long GType;
typedef void *gpointer;

extern GType g_object_get_type(void);
extern GType g_type_register_static_simple(GType parent, const char *name, unsigned class_size,
                                           void (*class_init)(gpointer, gpointer),
                                           unsigned instance_size,
                                           void (*instance_init)(gpointer, gpointer),
                                           int flags);
extern unsigned g_signal_new(const char *name, GType type, int flags, unsigned class_offset,
                             gpointer accumulator, gpointer accu_data, gpointer marshaller,
                             GType return_type, unsigned n_params, ...);
extern gpointer g_object_new(GType type, const char *first_property, ...);

#define G_TYPE_NONE ((GType)(1 << 2))
#define G_SIGNAL_RUN_LAST (1 << 1)
#define OBJECT_CLASS_SIZE 136 /* sizeof(GObjectClass) on 64-bit */
#define OBJECT_SIZE 24        /* sizeof(GObject) */

static void class_init(gpointer klass, gpointer data) {
  GType type = *(GType *)klass;
  g_signal_new("mapped-external-port", type, G_SIGNAL_RUN_LAST, 0, 0, 0, 0, G_TYPE_NONE, 0);
  g_signal_new("error-mapping-port", type, G_SIGNAL_RUN_LAST, 0, 0, 0, 0, G_TYPE_NONE, 0);
}

GType gupnp_simple_igd_get_type(void) {
  static GType type = 0;
  if (!type)
    type = g_type_register_static_simple(g_object_get_type(), "GUPnPSimpleIgd",
                                         OBJECT_CLASS_SIZE, class_init, OBJECT_SIZE, 0, 0);
  return type;
}

gpointer gupnp_simple_igd_thread_new(void) {
  return g_object_new(gupnp_simple_igd_get_type(), 0);
}

void gupnp_simple_igd_add_port(gpointer igd, const char *protocol, unsigned external_port,
                               const char *local_ip, unsigned local_port, unsigned lease_duration,
                               const char *description) {}

void gupnp_simple_igd_remove_port_local(gpointer igd, const char *protocol, const char *local_ip,
                                        unsigned local_port) {}
