#!/bin/sh
# Fills kamailio.cfg's placeholders and the dispatcher list from the environment, then runs
# Kamailio in the foreground.
#   KAMAILIO_LISTEN      address to listen on (default 127.0.0.1)
#   KAMAILIO_PORT        SIP port (default 5060)
#   TELGATE_INSTANCES    the instances' SIP URIs, space-separated
#                        (default "sip:127.0.0.1:5061 sip:127.0.0.1:5062")
set -eu
listen="${KAMAILIO_LISTEN:-127.0.0.1}"
port="${KAMAILIO_PORT:-5060}"
rundir=/run/kamailio
mkdir -p "$rundir"
sed -e "s|@LISTEN@|$listen|g" -e "s|@PORT@|$port|g" -e "s|@RUNDIR@|$rundir|g" \
  /etc/kamailio/telgate-kamailio.cfg.in > "$rundir/kamailio.cfg"
: > "$rundir/dispatcher.list"
for uri in ${TELGATE_INSTANCES:-sip:127.0.0.1:5061 sip:127.0.0.1:5062}; do
  echo "1 $uri 0 0" >> "$rundir/dispatcher.list"
done
exec kamailio -f "$rundir/kamailio.cfg" -DD -E -m 64 -M 8
