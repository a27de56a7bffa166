#!/usr/bin/perl
# Reloads that change the module's configuration: a new store with the same
# zone is refused (the running configuration keeps serving); a new zone size
# is a new zone, rebuilt from the store, with nothing lost.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IO::Socket::INET;

my $t = IoT::Test->new(workers => 2);
my $api = IoT::Collections->new($t);
$t->start;

my ($st, $C) = $api->call(POST => '/collections', body => { tags => { a => 'b' } });
is($st, 201, 'collection made');
my $cid = $C->{collectionId};
my ($ds, $D) = $api->call(POST => "/collections/$cid/devices",
                          body => { imsi => $t->next_imsi, imei => $t->next_imei });
is($ds, 201, 'device made');

# ---- another store, same zone: refused, the old workers go on
my @before = $t->workers;
$t->write_config(store => 'var/other.db');
kill 'HUP', $t->pid;
ok(IoT::Test::wait_until(sub { $t->read_log =~ /holds the registry of/ }, 30),
   'the reload is refused with a reason');
sleep 1;
is_deeply([ $t->workers ], \@before, 'the same workers still serve');
my ($gs, $G) = $api->call(GET => "/collections/$cid/devices/$D->{deviceId}");
is($gs, 200, 'and still answer from the old store');
ok(!-e $t->dir . '/var/other.db', 'the other store was not made');
$t->check_log('refused reload', allow => [qr/holds the registry of/]);

# ---- a new zone size: a new zone, built from the store.  A write whose
# body is still arriving meanwhile is finished by an old worker: it must be
# refused, or the new zone would never see it.
my $imsi = $t->next_imsi;
my $body = json_encode({ imsi => $imsi, imei => $t->next_imei });
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
                                 Proto => 'tcp', Timeout => 10) or die $!;
print $sock "POST /collections/$cid/devices HTTP/1.1\r\nHost: x\r\n"
    . "X-API-Token: " . $t->admin_token . "\r\nConnection: close\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n" . substr($body, 0, 5);
$sock->flush;
sleep 1;

# not $t->reload: that waits for the old workers to leave, and one of them
# is waiting for the rest of this body
my %old = map { $_ => 1 } $t->workers;
my $mark = () = $t->read_log =~ /loaded \d+ devices/g;
$t->write_config(store => 'var/iot.db', zone => '32m');
kill 'HUP', $t->pid;
ok(IoT::Test::wait_until(sub {
    my $n = () = $t->read_log =~ /loaded \d+ devices/g;
    my @new = grep { !$old{$_} } $t->workers;
    return $n > $mark && @new >= 2;
}, 60), 'the new zone is built and new workers run')
    or diag($t->log_tail(20));

print $sock substr($body, 5);
$sock->flush;
my $answer = do { local $/; <$sock> } // '';
close $sock;
like($answer, qr{^HTTP/1\.1 503 }, 'a write finished by an old worker is refused');
ok(IoT::Test::wait_until(sub { !grep { $old{$_} } $t->workers }, 30),
   'then the old workers leave');
like($answer, qr/"status":503/, '... in the dialect\'s format');
my ($ls, $L) = $api->call(GET => "/collections/$cid/devices");
ok(!(grep { $_->{imsi} eq $imsi } @{ $L->{devices} || [] }),
   '... and nothing was stored');

like($t->read_log, qr/loaded 1 devices, 1 collections/,
     'the new zone was loaded from the store');
($gs, $G) = $api->call(GET => "/collections/$cid/devices/$D->{deviceId}");
is($gs, 200, 'the device is in the new zone');
is_deeply($G, $D, '... unchanged');
my ($cs, $CC) = $api->call(GET => "/collections/$cid");
is_deeply($CC, $C, 'the collection too');
my ($xs) = $api->call(DELETE => "/collections/$cid");
is($xs, 409, 'and its device count came along');

$t->check_log('new zone');
$t->finish;
done_testing;
