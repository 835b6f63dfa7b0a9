# Phase "traefik" of prepare.sh, which sources this file (its helpers and
# variables are in scope): Traefik, the Ingress and Gateway API controller of
# the labs that list the `traefik` add-on (clusters/addons/traefik/), and its
# image under the published name, so the add-on's manifest runs unchanged here
# and where a registry serves it. Cache entries of its own: no earlier key
# changes, and a prepared machine only builds this part.
# Sets TRAEFIK_IMAGE and traefik_ids (the image IDs file the env phase checks).
phase traefik "Traefik $TRAEFIK_VERSION"
TRAEFIK_DIR="$CACHE/tools/traefik@$TRAEFIK_VERSION"
if [ -f "$TRAEFIK_DIR/.done" ]; then note="cached binary"; else
  rm -rf "$TRAEFIK_DIR.tmp"
  run "build-traefik@$TRAEFIK_VERSION" nice -n 19 "$TC/build-go-tool.sh" traefik "$TRAEFIK_VERSION" "$TRAEFIK_DIR.tmp"
  touch "$TRAEFIK_DIR.tmp/.done"; rm -rf "$TRAEFIK_DIR"; mv "$TRAEFIK_DIR.tmp" "$TRAEFIK_DIR"; note="built binary"
fi
TRAEFIK_MOD="$GOMODCACHE/github.com/traefik/traefik/v3@$TRAEFIK_VERSION"
[ -f "$TRAEFIK_MOD/go.mod" ] || die "Traefik module source not found at $TRAEFIK_MOD"
# the add-on's Gateway API CRDs (trim-manifests.py gateway-api) must be the version this Traefik is built against
wanted=$(awk '$1 == "sigs.k8s.io/gateway-api" {print $2; exit}' "$TRAEFIK_MOD/go.mod")
[ "$wanted" = "$GATEWAY_API_VERSION" ] || \
  die "Traefik $TRAEFIK_VERSION requires sigs.k8s.io/gateway-api $wanted, versions.env pins GATEWAY_API_VERSION=$GATEWAY_API_VERSION"
grep -q "bundle-version: $GATEWAY_API_VERSION\$" "$REPO/clusters/addons/traefik/gateway-api-crds.yaml" || \
  die "clusters/addons/traefik/gateway-api-crds.yaml is not Gateway API $GATEWAY_API_VERSION: regenerate it with toolchain/trim-manifests.py"
# the published name: Docker Hub's official image, which the nodes pull where a registry is reachable
TRAEFIK_IMAGE="traefik:$TRAEFIK_VERSION"
TRAEFIK_KEY=$(printf '%s\n' "$TRAEFIK_VERSION $RECIPE_REVISION" | cat - "$TC/build-static-image.sh" "$TC/phase-traefik.sh" | sha256sum | cut -c1-10)
traefik_tar="$IMAGES/traefik-$TRAEFIK_KEY.tar" traefik_ids="$IMAGES/traefik-$TRAEFIK_KEY.ids"
if restore_images "$traefik_tar" "$traefik_ids"; then
  note="$note, cached image"
else
  # as the official image: /usr/local/bin/traefik (its entrypoint script only prepends `traefik`
  # to arguments starting with "-", which is what the add-on passes)
  run "traefik-image-$TRAEFIK_KEY" "$TC/build-static-image.sh" "$TRAEFIK_IMAGE" /usr/local/bin/traefik \
    "$TRAEFIK_DIR/traefik" "$TRAEFIK_MOD/LICENSE.md" \
    "Traefik built locally from its Go module without a registry; stand-in for $TRAEFIK_IMAGE (same release, static base instead of Alpine, no web UI assets)"
  record_images "$traefik_tar" "$traefik_ids" "$TRAEFIK_IMAGE"
  note="$note, built image"
fi
phase_done "$note: $TRAEFIK_IMAGE, Gateway API $GATEWAY_API_VERSION CRDs in clusters/addons/traefik/"
