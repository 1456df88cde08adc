/*
 * getsockopt(SO_ORIGINAL_DST) for Node: the destination a connection had
 * before an iptables REDIRECT sent it to the proxy's outbound listener.
 * Node exposes no getsockopt, so this is the one native piece of meshctl:
 * one function, Node-API only (the binary keeps working across Node
 * versions), built with a plain C compiler by scripts/build-native.mjs.
 *
 *   originalDst(fd) -> { address: string, port: number, family: 4 | 6 }
 *   throws an Error whose code is the errno name (ENOENT: not redirected).
 *
 * An IPv4 connection accepted by a dual-stack IPv6 listener reports family 4
 * and its IPv4 destination.
 */
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h: both are 80. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static napi_value fail(napi_env env, int err) {
  const char *name = err == ENOENT ? "ENOENT" : err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == ENOPROTOOPT ? "ENOPROTOOPT" : err == ENOTCONN ? "ENOTCONN" : "EIO";
  napi_throw_error(env, name, strerror(err));
  return NULL;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "originalDst(fd): fd must be an integer");
    return NULL;
  }
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  memset(&addr, 0, sizeof(addr));
  /* sockaddr_storage, not sockaddr: an AF_INET6 address does not fit in the latter. */
  struct sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  memset(&local, 0, sizeof(local));
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) return fail(env, errno);
  /*
   * A dual-stack listener (`::` with ipv6Only false) accepts IPv4 connections
   * on AF_INET6 sockets whose peer is ::ffff:a.b.c.d. Their conntrack entry,
   * and so their original destination, is IPv4's: ask SOL_IP for it.
   */
  int ipv6 = local.ss_family == AF_INET6;
  if (ipv6) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    memset(&peer, 0, sizeof(peer));
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0) return fail(env, errno);
    if (peer.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&peer)->sin6_addr)) ipv6 = 0;
  }
  int rc = ipv6 ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &addr, &len) : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len);
  if (rc != 0) return fail(env, errno);

  char host[INET6_ADDRSTRLEN];
  int port;
  int family;
  if (addr.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&addr;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    family = 4;
  } else if (addr.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    family = 6;
  } else {
    return fail(env, EIO);
  }
  napi_value result, address, port_value, family_value;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &port_value);
  napi_create_int32(env, family, &family_value);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port_value);
  napi_set_named_property(env, result, "family", family_value);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}
