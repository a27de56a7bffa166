#!/usr/bin/perl
# A device's name in the things dialect is its tags.name, read from the
# tags' text as the registry keeps it (docs/things.md, "Devices"): with
# other tags before and after it, with escapes in it or in the tags
# around it, non-ASCII, empty, absent (the collections id then), the
# same in GET, in lists and after a restart.

use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

my $C = $col->create_collection;

# tags (as the collections dialect takes them) => the name expected
my @cases = (
    [ 'alone',               { name => 'plain' },                 'plain' ],
    [ 'after others',        { a => '1', b => 'x"y', name => 'n2' }, 'n2' ],
    [ 'before others',       { name => 'n3', zz => 'back\\slash' },  'n3' ],
    [ 'between',             { a => "tab\there", name => 'n4',
                               z => "line\nfeed" },              'n4' ],
    [ 'quote in it',         { name => 'say "hi"' },           'say "hi"' ],
    [ 'backslash in it',     { name => 'a\\b' },                  'a\\b' ],
    [ 'control in it',       { name => "bell\x07" },          "bell\x07" ],
    [ 'non-ASCII',           { name => 'café ✓' },            'café ✓' ],
    [ 'a key ending in name', { xname => 'no', namex => 'no' },  undef ],
    [ 'a value "name"',      { label => 'name' },                 undef ],
    [ 'empty',               { name => '' },                       undef ],
    [ 'no tags',             undef,                                undef ],
);

my %by_imei;
for my $c (@cases) {
    my ($what, $tags, $want) = @$c;
    my $D = $col->create_device($C->{collectionId},
                                $tags ? { tags => $tags } : {});
    $by_imei{ $D->{imei} } = [ $what, $want // $D->{deviceId} ];
}

sub check_all {
    my ($when) = @_;
    for my $imei (sort keys %by_imei) {
        my ($what, $want) = @{ $by_imei{$imei} };
        my ($st, $j) = $api->call(GET => "/devices/imei:$imei");
        is($st, 200, "$when: $what: found");
        is($j->{name}, $want, "$when: $what: name");
    }

    # the same names in a list (the rows of the store, not the zone)
    my ($st, $L) = $api->call(GET => '/devices?limit=100');
    is($st, 200, "$when: the list");
    my %listed = map { $_->{name} => 1 } @{ $L->{items} || [] };
    ok($listed{ $by_imei{$_}[1] }, "$when: listed: $by_imei{$_}[0]")
        for sort keys %by_imei;
}

check_all('made');
$t->restart;
check_all('after a restart');

$t->finish;
done_testing;
