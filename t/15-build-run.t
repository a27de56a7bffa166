#!/usr/bin/perl
# `./build.sh run` and the RADIUS secret: a secret given in IOT_RADIUS_SECRET
# reaches nginx as it is (whatever characters it holds), is kept in
# radius.secret (0600) for the runs after it, and the generated nginx.conf,
# which holds it, is for root alone.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Cwd qw(getcwd);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use lib 't/lib';
use IoT::Test;
use IoT::Radius qw(radclient);
use IoT::Coap;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'build.sh runs nginx as root' unless $> == 0;

my $top = getcwd;
my $prefix = tempdir('iot-run-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my $http = IoT::Test::free_port('tcp');
# RADIUS takes two ports: this one and the next (accounting)
my $radius;
for (1 .. 50) {
    my $p = IoT::Test::free_port('udp');
    my $next = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => $p + 1, Proto => 'udp');
    if ($next) { close $next; $radius = $p; last }
}
die 'no two free UDP ports in a row' unless $radius;
my $coap = IoT::Coap::free_pair();
my %env = (IOT_PREFIX => $prefix, IOT_LISTEN => '127.0.0.1',
           IOT_HTTP_PORT => $http,
           IOT_UDP_PORT => IoT::Test::free_port('udp'),
           IOT_RADIUS_PORT => $radius,
           IOT_COAP_PORT => $coap,
           IOT_COAP_LINK_PORT => IoT::Test::free_port('udp'));
my $SECRET = q{a&b|c"d\e f$g};

sub build_sh {
    my ($what, %more) = @_;
    local %ENV = (%ENV, %env, %more);
    delete $ENV{IOT_RADIUS_SECRET} unless exists $more{IOT_RADIUS_SECRET};
    my $out = `cd $top && ./build.sh $what 2>&1`;
    return ($? >> 8, $out);
}

END { build_sh('stop') if $prefix }

sub mode { sprintf '%04o', (stat $_[0])[2] & 07777 }

sub accounting {
    my ($secret) = @_;
    my (undef, $out) = radclient($radius + 1, 'acct', $secret,
        'Acct-Status-Type = Accounting-On, Acct-Session-Id = "on"',
        dir => $prefix);
    return $out =~ /Received Accounting-Response/;
}

my ($st, $out) = build_sh('run', IOT_RADIUS_SECRET => $SECRET);
is($st, 0, './build.sh run with IOT_RADIUS_SECRET') or diag($out);
is(mode("$prefix/conf/nginx.conf"), '0600', 'nginx.conf is for root alone');
my $conf = do { local (@ARGV, $/) = "$prefix/conf/nginx.conf"; <> };
my @listen = $conf =~ /^\s*listen\s+([^\s;]+)/mg;
is(scalar(grep { !/^127\.0\.0\.1:\d+$/ } @listen), 0,
   'IOT_LISTEN: every listener on 127.0.0.1') or diag("@listen");
is(mode("$prefix/radius.secret"), '0600', 'radius.secret is too');
open my $fh, '<', "$prefix/radius.secret" or die $!;
chomp(my $kept = <$fh> // '');
is($kept, $SECRET, '... and holds the secret given');
ok(accounting($SECRET), 'the gateway answers a client that knows the secret');
is(mode("$prefix/coap.secret"), '0600', 'the CoAP link secret is private');
ok(-s "$prefix/logs/coap-sidecar.pid", 'the CoAP sidecar runs beside nginx');
my $wk = `coap-client-notls -B 3 coap://127.0.0.1:$coap/.well-known/core 2>&1`;
like($wk, qr/</, '... and answers CoAP on IOT_COAP_PORT');
ok(!accounting('not-the-secret'), '... and not one that does not');

($st, $out) = build_sh('stop');
is($st, 0, './build.sh stop');
($st, $out) = build_sh('run');
is($st, 0, './build.sh run again, without the variable') or diag($out);
ok(accounting($SECRET), '... keeps the secret');
like($out, qr/\Q$SECRET\E/, '... and says which it is');

# every dialect is served: the iotda dialect at /v5/iot/ (docs/iotda.md)
{
    open my $tf, '<', "$prefix/admin.token" or die $!;
    chomp(my $admin = <$tf> // '');
    my $res = HTTP::Tiny->new->get(
        "http://127.0.0.1:$http/v5/iot/00000000000000000000000000000000/devices",
        { headers => { 'X-Auth-Token' => $admin } });
    is($res->{status}, 403, 'the iotda dialect answers at /v5/iot/');
    like($res->{content}, qr/"error_code":"IOTDA\.000022"/,
         '... in its own error format');
}

done_testing;
