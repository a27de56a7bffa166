#!/usr/bin/perl

# The RADIUS directives refuse what cannot work with a clear [emerg]:
# duplicate gateway names, overlapping pools, the same "from" twice, bad
# parameters, iot_radius on a TCP listen or without any gateway.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IoT::Test;

my $port = IoT::Test::free_port('udp');

my $ok_gw = 'iot_radius_gateway name=a from=127.0.0.1 secret=x '
          . 'pool=10.1.0.0/16;';

my @bad = (
    [ "$ok_gw\niot_radius_gateway name=a from=127.0.0.2 secret=y "
      . "pool=10.2.0.0/16;",
      qr/duplicate iot_radius_gateway name "a"/, 'a duplicate name' ],
    [ "$ok_gw\niot_radius_gateway name=b from=127.0.0.2 secret=y "
      . "pool=10.1.128.0/24;",
      qr/pool of iot_radius_gateway "b" overlaps the pool of "a"/,
      'pools that overlap' ],
    [ "$ok_gw\niot_radius_gateway name=b from=127.0.0.1/32 secret=y "
      . "pool=10.2.0.0/16;",
      qr/"b" has the same "from" as "a"/, 'the same "from" twice' ],
    [ 'iot_radius_gateway name=a from=127.0.0.1 secret=x;',
      qr/needs name=, from=, secret= and pool=/, 'no pool' ],
    [ 'iot_radius_gateway name=a from=127.0.0.1 pool=10.1.0.0/16;',
      qr/needs name=, from=, secret= and pool=/, 'no secret' ],
    [ 'iot_radius_gateway name=a from=127.0.0.1 secret= pool=10.1.0.0/16;',
      qr/invalid parameter "secret="/, 'an empty secret' ],
    [ 'iot_radius_gateway name=a/b from=127.0.0.1 secret=x '
      . 'pool=10.1.0.0/16;',
      qr/invalid parameter "name=a\/b"/, 'a name with a slash' ],
    [ 'iot_radius_gateway name=a from=nowhere secret=x pool=10.1.0.0/16;',
      qr/invalid parameter "from=nowhere"/, 'a "from" that is no address' ],
    [ 'iot_radius_gateway name=a from=127.0.0.1 secret=x pool=fd00::/64;',
      qr/"pool" must be an IPv4 network/, 'an IPv6 pool' ],
    [ 'iot_radius_gateway name=a from=127.0.0.1 secret=x pool=10.1.0.0/31;',
      qr/must be \/8 to \/30/, 'a pool of two addresses' ],
    [ 'iot_radius_gateway name=a from=127.0.0.1 secret=x pool=10.1.0.0/16 '
      . 'colour=blue;',
      qr/invalid parameter "colour=blue"/, 'an unknown parameter' ],
    [ "$ok_gw\nserver { listen 127.0.0.1:$port; iot_radius; }",
      qr/"iot_radius" needs "listen \.\.\. udp"/, 'iot_radius over TCP' ],
    [ "server { listen 127.0.0.1:$port udp; iot_radius; }",
      qr/"iot_radius" is used but no "iot_radius_gateway"/,
      'iot_radius without a gateway' ],
    [ "$ok_gw\nserver { listen 127.0.0.1:$port udp; iot_radius; "
      . "iot_radius; }",
      qr/"iot_radius" directive is duplicate/, 'iot_radius twice' ],
);

for my $b (@bad) {
    my ($conf, $re, $name) = @$b;
    my $t = IoT::Test->new(stream_conf => $conf);
    my $st = $t->start_should_fail;
    ok(defined $st && $st != 0, "$name: nginx refuses to start");
    like($t->log_slice, qr/\[emerg\][^\n]*$re/, "$name: the [emerg] says why");
}

# the module loaded without any RADIUS directive, and the stats variable
# with no gateway, change nothing
my $sp = IoT::Test::free_port('tcp');
my $t = IoT::Test->new(stream_conf =>
    "server { listen 127.0.0.1:$sp; return \"[\$iot_radius_stats]\"; }");
$t->start;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sp,
                              Proto => 'tcp', Timeout => $IoT::Test::TIMEOUT);
my $text = do { local $/; <$s> };
is($text, '[]', 'without gateways $iot_radius_stats is empty');
$t->finish;

done_testing;
