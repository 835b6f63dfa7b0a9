#!/usr/bin/env bash
# Build the container images the labs use, from Debian packages, without a
# registry: each is a Debian (or busybox) root filesystem brought in with
# `docker import`, plus a metadata-only Dockerfile step (CMD, EXPOSE, labels).
# Every image carries org.opencontainers.image.description naming what it
# stands in for.
#
# usage: build-lab-images.sh <image> ...   (default: all)
#   images: nginx curl busybox redis node ghost dnsutils
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_BUILDKIT=0
rev=${RECIPE_REVISION:-1}
PATHENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

quiet() { # run a command, show its output only if it fails
  local log rc=0; log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "$log" >&2; echo "failed ($rc): $*" >&2; }
  rm -f "$log"; return $rc
}

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-labimg.XXXXXX")
trap 'rm -rf "$work"' EXIT

desc() { echo "LABEL org.opencontainers.image.description=\"netlabs: locally built stand-in for $1, assembled from Debian ${DEBIAN_SUITE:-bookworm} packages without a registry\""; }

finish() { # finish <tag> <rootfs-dir> ; Dockerfile tail on stdin
  local tag=$1 dir=$2 tmp="netlabs/rootfs-tmp:$$"
  tar --numeric-owner -C "$dir" -c . | docker import --change "ENV $PATHENV" - "$tmp" >/dev/null
  { echo "FROM $tmp"; cat; } | quiet docker build -q -t "$tag" -
  docker rmi "$tmp" >/dev/null
  rm -rf "$dir"
  echo "  built $tag ($(docker image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
}

debian() { # debian <dir> <packages>
  "$here/mkrootfs.sh" "$1" essential "$2"
}

build_busybox() {
  local r="$work/busybox"
  bash "$here/images/busybox-rootfs.sh" "$r"
  finish busybox:1.36 "$r" <<DF
$(desc "busybox:1.36 (Debian busybox-static, every applet linked in PATH)")
CMD ["sh"]
DF
}

build_ghost() {
  local r="$work/ghost"
  bash "$here/images/busybox-rootfs.sh" "$r"
  mkdir -p "$r/var/lib/ghost/content"
  cat > "$r/var/lib/ghost/content/index.html" <<'HTML'
<!DOCTYPE html>
<html><head><title>Ghost (netlabs stand-in)</title></head>
<body><h1>Ghost stand-in</h1>
<p>This is a small stand-in for the Ghost publishing platform (ghost:5), built
locally by netlabs: busybox httpd serving this page on port 2368.</p>
</body></html>
HTML
  finish ghost:5 "$r" <<DF
$(desc "ghost:5 (a tiny busybox httpd page on port 2368, not the Ghost CMS)")
ENV NODE_ENV=production GHOST_INSTALL=/var/lib/ghost GHOST_CONTENT=/var/lib/ghost/content
WORKDIR /var/lib/ghost
EXPOSE 2368
CMD ["httpd", "-f", "-v", "-p", "2368", "-h", "/var/lib/ghost/content"]
DF
}

build_curl() {
  local r="$work/curl"
  debian "$r" curl,ca-certificates
  cat > "$r/entrypoint.sh" <<'SH'
#!/bin/sh
# like curlimages/curl: run curl unless the first argument is a command
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" 2>/dev/null)" ]; then
  set -- curl "$@"
fi
exec "$@"
SH
  chmod 0755 "$r/entrypoint.sh"
  echo 'curl_user:x:100:101:curl_user:/home/curl_user:/bin/sh' >> "$r/etc/passwd"
  echo 'curl_group:x:101:' >> "$r/etc/group"
  mkdir -p "$r/home/curl_user" && chown 100:101 "$r/home/curl_user"
  finish curlimages/curl:8.11.1 "$r" <<DF
$(desc "curlimages/curl:8.11.1 (Debian curl and /bin/sh)")
USER curl_user
WORKDIR /home/curl_user
ENTRYPOINT ["/entrypoint.sh"]
CMD ["curl"]
DF
}

build_nginx() {
  local r="$work/nginx"
  debian "$r" nginx,curl,ca-certificates,iproute2,procps,hostname
  rm -rf "$r/etc/nginx/sites-enabled" "$r/etc/nginx/sites-available" "$r/var/www/html"
  mkdir -p "$r/etc/nginx/conf.d" "$r/usr/share/nginx/html" "$r/var/cache/nginx" "$r/var/log/nginx"
  echo 'nginx:x:101:101:nginx user:/nonexistent:/bin/false' >> "$r/etc/passwd"
  echo 'nginx:x:101:' >> "$r/etc/group"
  cat > "$r/etc/nginx/nginx.conf" <<'CONF'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
CONF
  cat > "$r/etc/nginx/conf.d/default.conf" <<'CONF'
server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
CONF
  cat > "$r/usr/share/nginx/html/index.html" <<'HTML'
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working.</p>
<p><em>netlabs: locally built stand-in for nginx:1.27 (Debian's nginx).</em></p>
</body>
</html>
HTML
  cat > "$r/usr/share/nginx/html/50x.html" <<'HTML'
<!DOCTYPE html>
<html><head><title>Error</title></head>
<body><h1>An error occurred.</h1></body></html>
HTML
  ln -sf /dev/stdout "$r/var/log/nginx/access.log"
  ln -sf /dev/stderr "$r/var/log/nginx/error.log"
  finish nginx:1.27 "$r" <<DF
$(desc "nginx:1.27 (Debian nginx; config in /etc/nginx/nginx.conf, includes /etc/nginx/conf.d/*.conf)")
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
DF
}

build_redis() {
  local r="$work/redis"
  debian "$r" redis-server
  mkdir -p "$r/data"
  chroot "$r" chown redis:redis /data
  finish redis:6.0 "$r" <<DF
$(desc "redis:6.0 (Debian redis-server; listens on 0.0.0.0:6379, protected mode off)")
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--daemonize", "no"]
DF
}

build_node() {
  local r="$work/node"
  debian "$r" nodejs,npm,ca-certificates
  # no registry is reachable from image builds: never phone home
  printf 'audit=false\nfund=false\nupdate-notifier=false\nprefer-offline=true\n' > "$r/etc/npmrc"
  mkdir -p "$r/usr/etc" && cp "$r/etc/npmrc" "$r/usr/etc/npmrc"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >> "$r/etc/passwd"
  echo 'node:x:1000:' >> "$r/etc/group"
  mkdir -p "$r/home/node" && chown 1000:1000 "$r/home/node"
  finish node:14 "$r" <<DF
$(desc "node:14 (Debian nodejs and npm; npm audit/fund/update checks off)")
CMD ["node"]
DF
}

build_dnsutils() {
  local r="$work/dnsutils"
  debian "$r" bind9-dnsutils,iputils-ping,iproute2,curl,ca-certificates
  finish registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3 "$r" <<DF
$(desc "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3, the DNS debugging Pod of kubernetes.io (Debian dig, nslookup, host, ping)")
CMD ["sleep", "infinity"]
DF
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(busybox ghost curl nginx redis node dnsutils)
for t in "${targets[@]}"; do "build_$t"; done
