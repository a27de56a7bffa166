#!/usr/bin/perl
# A worker killed in the middle of a write: the next process to take the
# zone's lock reloads that entity from the store (the write was committed
# but never answered, so either outcome is allowed; what is not allowed is
# a zone that disagrees with the store). gdb stops the worker's writer
# thread and kills it at two points of the batch that holds the INSERT:
# - right after its COMMIT (ngx_iot_store_commit), with the zone unlocked;
# - in ngx_iot_journal_end(), which runs with the zone's lock held. That
#   lock is a robust mutex: the next process to take it is told its holder
#   died and takes it; one that did not know would wait for it forever,
#   and so would every later request.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};

# one worker: the request must land on the worker gdb holds
my $t = IoT::Test->new(workers => 1);
my $api = IoT::Collections->new($t);
$t->start;

for my $at (['the commit', 'break ngx_iot_store_commit', 'continue',
             'finish', 'kill'],
            ['the end of the journal, zone locked',
             'break ngx_iot_journal_end', 'continue', 'kill'])
{
    my ($where, @commands) = @$at;
    note("killed at $where");

    my ($st, $C) = $api->call(POST => '/collections', body => {});
    is($st, 201, 'collection made');
    my $cid = $C->{collectionId};

    my ($w) = $t->workers;
    my $imsi = $t->next_imsi;
    my $imei = $t->next_imei;

    # the write: it never gets an answer, its worker dies
    my $out = $t->die_during($w, \@commands, sub {
        $api->call(POST => "/collections/$cid/devices",
                   body => { imsi => $imsi, imei => $imei });
    });

    my ($fn) = $commands[0] =~ /break (\S+)/;
    like($out, qr/\Q$fn\E/, "the worker stopped at $where");

    ok(IoT::Test::wait_until(sub {
        my @w = $t->workers;
        return @w == 1 && $w[0] != $w
            && (($api->call(GET => '/'))[0] // 0) == 200;
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

    my ($ns) = $api->call(POST => '/collections', body => {});
    is($ns, 201, 'writes go on');
}

my @repairs = $t->read_log =~ /died during a write, reloading that entity/g;
is(scalar @repairs, 2, 'each repair is logged');

$t->check_log('repair', allow => [qr/exited on signal 9/,
                                  qr/was locked by/]);
$t->finish;
done_testing;
