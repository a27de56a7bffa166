#!/usr/bin/perl
# A worker killed between a write's SQLite commit and the end of its
# write: the next process to take the zone's lock reloads that entity from
# the store (the write was committed but never answered, so either outcome
# is allowed; what is not allowed is a zone that disagrees with the store).
# gdb stops the worker's writer thread right after the COMMIT of the batch
# that holds the INSERT (ngx_iot_store_commit) and kills it.

use strict;
use warnings;
use Test::More;
use POSIX ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};

# one worker: the request must land on the worker gdb holds
my $t = IoT::Test->new(workers => 1);
my $api = IoT::Collections->new($t);
$t->start;

my ($st, $C) = $api->call(POST => '/collections', body => {});
is($st, 201, 'collection made');
my $cid = $C->{collectionId};

my ($w) = $t->workers;
my $imsi = $t->next_imsi;
my $imei = $t->next_imei;

my $gdb = $t->gdb($w, ['break ngx_iot_store_commit', 'continue', 'finish',
                       'kill'], timeout => 60);

ok(IoT::Test::wait_until(sub { $t->traced_by($w) }, 30), 'gdb attached');
sleep 2;    # the breakpoint is set and the worker runs again

# the write: it never gets an answer, its worker dies
my $kid = fork // die;
if ($kid == 0) {
    $api->call(POST => "/collections/$cid/devices",
               body => { imsi => $imsi, imei => $imei });
    POSIX::_exit(0);
}

my $out = do { local $/; <$gdb> };
close $gdb;
waitpid $kid, 0;

like($out, qr/ngx_iot_store_commit/, 'the worker stopped at the commit');

ok(IoT::Test::wait_until(sub {
    my @w = $t->workers;
    return @w == 1 && $w[0] != $w && (($api->call(GET => '/'))[0] // 0) == 200;
}, 30), 'the master started a new worker');

# the store has the device (committed); the zone must have it too
my ($ls, $list) = $api->call(GET => "/collections/$cid/devices");
is($ls, 200, 'list');
my @d = grep { $_->{imsi} eq $imsi } @{ $list->{devices} || [] };
is(scalar @d, 1, 'the committed device is in the store');

SKIP: {
    skip 'no device', 4 unless @d;
    my ($gs, $dev) = $api->call(GET => "/collections/$cid/devices/$d[0]{deviceId}");
    is($gs, 200, 'and the zone has it, read without the store');
    is($dev && $dev->{imei}, $imei, '... with its IMEI');

    my ($ds) = $api->call(POST => "/collections/$cid/devices",
                          body => { imsi => $imsi, imei => $t->next_imei });
    is($ds, 409, 'its IMSI is taken in the index');

    my ($xs) = $api->call(DELETE => "/collections/$cid/devices/$d[0]{deviceId}");
    is($xs, 204, 'it can be deleted');
}

my ($cs) = $api->call(DELETE => "/collections/$cid");
is($cs, 204, 'the collection count of devices is right again: delete works');

like($t->read_log, qr/died during a write, reloading that entity/,
     'the repair is logged');

$t->check_log('repair', allow => [qr/exited on signal 9/,
                                  qr/was locked by/]);
$t->finish;
done_testing;
