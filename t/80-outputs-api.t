#!/usr/bin/perl
# Outputs through the collections dialect: create, list, read, change and
# delete outputs of each type, their tags, logs and status; every
# validation error answered as the real system words it, nothing stored;
# secrets never shown; scopes of tokens; outputs kept across a restart.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

my $t = IoT::Test->new(workers => 2);
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $other = $api->create_collection->{collectionId};

sub invalid {
    my ($res, $name, $re) = @_;
    my ($st, $j, $h, $raw) = @$res;
    is($st, 400, "$name: 400");
    is($j && $j->{message}, 'Output configuration is invalid',
       "$name: the real system's message");
    like($j && $j->{additionalInfo} // '', $re, "$name: names the field");
}

# ------------------------------------------------------------ create

my ($st, $O) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'webhook', enabled => undef, outputId => undef,
    collectionId => undef,
    config => { url => 'http://example.com/hook', basicAuthUser => 'u',
                basicAuthPass => 'secret-pass', customHeaderName => 'X-Key',
                customHeaderValue => 'v1' },
    tags => { name => 'hook' } });
is($st, 201, 'webhook made');
like($O->{outputId}, $ID_RE, 'an output id');
is($O->{collectionId}, $cid, 'its collection');
is($O->{type}, 'webhook', 'its type');
ok($O->{enabled}, 'enabled by default (null is absent)');
is($O->{config}{url}, 'http://example.com/hook', 'url');
is($O->{config}{basicAuthUser}, 'u', 'user');
isnt($O->{config}{basicAuthPass}, 'secret-pass', 'the password is not shown');
is($O->{config}{customHeaderName}, 'X-Key', 'header name');
is($O->{tags}{name}, 'hook', 'tags');
my $oid = $O->{outputId};

my %made = (
    udp => { host => 'example.com', port => 4711 },
    mqtt => { endpoint => 'ssl://broker.example.com:8883',
              topicName => 'a/b', clientId => 'c1', username => 'u',
              password => 'mqtt-secret', disableCertCheck => JTRUE },
    ifttt => { key => 'maker-key', eventName => 'ev_1',
               asIsPayload => JFALSE },
);
my %ids;
for my $type (sort keys %made) {
    my ($s, $o) = $api->call(POST => "/collections/$cid/outputs",
                             body => { type => $type,
                                       config => $made{$type} });
    is($s, 201, "$type made");
    is($o->{type}, $type, "$type: type");
    $ids{$type} = $o->{outputId};
    for my $k (keys %{ $made{$type} }) {
        ok(exists $o->{config}{$k}, "$type: config has $k");
    }
}
my ($s2, $mq) = $api->call(GET => "/collections/$cid/outputs/$ids{mqtt}");
is($mq->{config}{topicName}, 'a/b', 'mqtt read back');
isnt($mq->{config}{password}, 'mqtt-secret', 'mqtt password not shown');
ok($mq->{config}{disableCertCheck}, 'disableCertCheck kept');
my ($s3, $if) = $api->call(GET => "/collections/$cid/outputs/$ids{ifttt}");
isnt($if->{config}{key}, 'maker-key', 'IFTTT key not shown');
is($if->{config}{eventName}, 'ev_1', 'IFTTT event');

# ------------------------------------------------------------ validation

my ($sl, $L) = $api->call(GET => "/collections/$cid/outputs");
is($sl, 200, 'list');
is(scalar @{ $L->{outputs} }, 4, 'four outputs');

my @bad = (
    [ { type => 'carrier-pigeon', config => {} }, qr/type/, 'unknown type' ],
    [ { config => { url => 'http://x.example' } }, qr/type/, 'no type' ],
    [ { type => 'webhook', config => {} }, qr/url/, 'no url' ],
    [ { type => 'webhook', config => { url => 'ftp://x.example/' } },
      qr/url/, 'ftp url' ],
    [ { type => 'webhook', config => { url => 'http:///path' } },
      qr/url/, 'url without a host' ],
    [ { type => 'webhook', config => { url => 'http://a b/' } },
      qr/url/, 'url with a space' ],
    [ { type => 'webhook', config => { url => 'http://x.example:0/' } },
      qr/url/, 'url with port 0' ],
    [ { type => 'webhook', config => { url => 'http://u:p@x.example/' } },
      qr/url/, 'url with user information' ],
    [ { type => 'webhook', config => { url => 5 } }, qr/url/,
      'url not a string' ],
    [ { type => 'webhook', config => { url => 'http://x.example/',
                                       customHeaderName => 'Bad Name' } },
      qr/customHeaderName/, 'header name with a space' ],
    [ { type => 'webhook', config => { url => 'http://x.example/',
                                       customHeaderValue => "a\r\nb" } },
      qr/customHeaderValue/, 'header value with CRLF' ],
    [ { type => 'webhook', config => 'http://x.example/' }, qr/config/,
      'config not an object' ],
    [ { type => 'udp', config => { port => 4000 } }, qr/host/, 'udp: no host' ],
    [ { type => 'udp', config => { host => 'x.example' } }, qr/port/,
      'udp: no port' ],
    [ { type => 'udp', config => { host => 'x.example', port => 70000 } },
      qr/port/, 'udp: port too large' ],
    [ { type => 'udp', config => { host => 'x.example', port => 0 } },
      qr/port/, 'udp: port 0' ],
    [ { type => 'udp', config => { host => 'x/y', port => 1 } },
      qr/host/, 'udp: host with a slash' ],
    [ { type => 'mqtt', config => { topicName => 't' } }, qr/endpoint/,
      'mqtt: no endpoint' ],
    [ { type => 'mqtt', config => { endpoint => 'http://b.example:1883',
                                    topicName => 't' } },
      qr/endpoint/, 'mqtt: http endpoint' ],
    [ { type => 'mqtt', config => { endpoint => 'tcp://b.example',
                                    topicName => 't' } },
      qr/endpoint/, 'mqtt: no port' ],
    [ { type => 'mqtt', config => { endpoint => 'tcp://:1883',
                                    topicName => 't' } },
      qr/endpoint/, 'mqtt: no host' ],
    [ { type => 'mqtt', config => { endpoint => 'tcp://b.example:1883' } },
      qr/topicName/, 'mqtt: no topic' ],
    [ { type => 'mqtt', config => { endpoint => 'tcp://b.example:1883',
                                    topicName => 't',
                                    disableCertCheck => 'yes' } },
      qr/disableCertCheck/, 'mqtt: disableCertCheck not a boolean' ],
    [ { type => 'ifttt', config => { eventName => 'e' } }, qr/key/,
      'ifttt: no key' ],
    [ { type => 'ifttt', config => { key => 'k' } }, qr/eventName/,
      'ifttt: no event' ],
    [ { type => 'ifttt', config => { key => 'k', eventName => 'a/b' } },
      qr/eventName/, 'ifttt: event with a slash' ],
    [ { type => 'ifttt', config => { key => 'k?x=1', eventName => 'e' } },
      qr/key/, 'ifttt: key with a question mark' ],
);
for my $b (@bad) {
    invalid([$api->call(POST => "/collections/$cid/outputs",
                        body => $b->[0])], $b->[2], $b->[1]);
}
is_error([$api->call(POST => "/collections/$cid/outputs",
                     body => { type => 'udp', enabled => 'yes',
                               config => { host => 'h', port => 1 } })],
         400, 'enabled not a boolean', qr/enabled/);
is_error([$api->call(POST => "/collections/$cid/outputs",
                     body => { type => 'udp', tags => { a => 5 },
                               config => { host => 'h', port => 1 } })],
         400, 'tags not strings', qr/tag/);
($sl, $L) = $api->call(GET => "/collections/$cid/outputs");
is(scalar @{ $L->{outputs} }, 4, 'nothing refused was stored');

# ------------------------------------------------------------ change

my ($sp, $P) = $api->call(PATCH => "/collections/$cid/outputs/$oid", body => {
    outputId => $oid, collectionId => $cid, type => 'webhook',
    config => { url => 'https://example.org/h', basicAuthUser => 'u',
                basicAuthPass => $O->{config}{basicAuthPass},
                customHeaderName => undef, customHeaderValue => undef },
    enabled => JTRUE, tags => { more => 'x' } });
is($sp, 200, 'PATCH');
is($P->{config}{url}, 'https://example.org/h', 'config replaced');
is($P->{config}{customHeaderName}, '', 'a key left out is empty');
is($P->{tags}{name}, 'hook', 'tags merged: old kept');
is($P->{tags}{more}, 'x', 'tags merged: new');

invalid([$api->call(PATCH => "/collections/$cid/outputs/$oid",
                    body => { config => { url => 'nope' } })],
        'PATCH with a bad url', qr/url/);
invalid([$api->call(PATCH => "/collections/$cid/outputs/$oid",
                    body => { type => 'udp' })],
        'PATCH to another type without its config', qr/host/);
my ($sg, $G) = $api->call(GET => "/collections/$cid/outputs/$oid");
is($G->{config}{url}, 'https://example.org/h', 'a refused PATCH changed '
   . 'nothing');

# the stored password is what was sent first (the store, read directly)
my $db = $t->dir . '/var/iot.db';
if (-x '/usr/bin/sqlite3' && -f $db) {
    my $cfg = `sqlite3 '$db' "SELECT config FROM outputs" 2>/dev/null`;
    like($cfg, qr/secret-pass/, 'the masked password kept the stored one');
}

# disabled: logs and status are 400
my ($sd, $D) = $api->call(PATCH => "/collections/$cid/outputs/$oid",
                          body => { enabled => JFALSE });
ok(!$D->{enabled}, 'disabled');
is_error([$api->call(GET => "/collections/$cid/outputs/$oid/logs")], 400,
         'logs of a disabled output', qr/disabled/);
is_error([$api->call(GET => "/collections/$cid/outputs/$oid/status")], 400,
         'status of a disabled output', qr/disabled/);
$api->call(PATCH => "/collections/$cid/outputs/$oid",
           body => { enabled => JTRUE });

my ($slg, $LG) = $api->call(GET => "/collections/$cid/outputs/$oid/logs");
is($slg, 200, 'logs');
is_deeply($LG->{logs}, [], 'no log entries yet');
my ($sst, $ST) = $api->call(GET => "/collections/$cid/outputs/$oid/status");
is($sst, 200, 'status');
is($ST->{outputId}, $oid, 'status: outputId');
is($ST->{collectionId}, $cid, 'status: collectionId');
for my $k (qw(errorCount forwarded received retries)) {
    is($ST->{$k}, 0, "status: $k 0");
}

# ------------------------------------------------------------ tags

my ($stg, $TG) = $api->call(GET => "/collections/$cid/outputs/$oid/tags");
is_deeply($TG, { name => 'hook', more => 'x' }, 'tags');
($stg, $TG) = $api->call(PATCH => "/collections/$cid/outputs/$oid/tags",
                         body => { more => '', third => '3' });
is_deeply($TG, { name => 'hook', third => '3' }, 'tags patched');
($stg, $TG) = $api->call(PATCH => "/collections/$cid/outputs/$oid/tags/x1",
                         body => { value => 'one' });
is_deeply($TG, { value => 'one' }, 'one tag set');
($stg, $TG) = $api->call(GET => "/collections/$cid/outputs/$oid/tags/x1");
is_deeply($TG, { value => 'one' }, 'one tag read');
my ($sdt) = $api->call(DELETE => "/collections/$cid/outputs/$oid/tags/x1");
is($sdt, 204, 'one tag deleted');
is_error([$api->call(GET => "/collections/$cid/outputs/$oid/tags/x1")], 404,
         'deleted tag', qr/tag/);

# ------------------------------------------------------------ scopes

is_error([$api->call(GET => "/collections/$other/outputs/$oid")], 404,
         'an output through another collection', qr/output/);
is_error([$api->call(GET => "/collections/$cid/outputs/zzzz")], 404,
         'not an id', qr/output/);
is_error([$api->call(GET => "/collections/0000000000000/outputs")], 404,
         'unknown collection', qr/collection/);
my $ro = $api->create_token({ resource => "/collections/$cid" });
my $ot = $api->create_token({ resource => "/collections/$other",
                              write => JTRUE });
my ($sro) = $api->call(GET => "/collections/$cid/outputs",
                       token => $ro->{token});
is($sro, 200, 'a read-only token of the collection lists');
is_error([$api->call(POST => "/collections/$cid/outputs",
                     token => $ro->{token},
                     body => { type => 'udp',
                               config => { host => 'h', port => 1 } })],
         403, 'a read-only token cannot make one');
is_error([$api->call(GET => "/collections/$cid/outputs/$oid",
                     token => $ot->{token})],
         403, 'a token of another collection');

# ------------------------------------------------------------ restart

$t->restart;
($sg, $G) = $api->call(GET => "/collections/$cid/outputs/$oid");
is($sg, 200, 'after a restart');
is($G->{config}{url}, 'https://example.org/h', 'config after a restart');

my ($sdel) = $api->call(DELETE => "/collections/$cid/outputs/$oid");
is($sdel, 204, 'deleted');
is_error([$api->call(GET => "/collections/$cid/outputs/$oid")], 404,
         'gone', qr/output/);
is_error([$api->call(DELETE => "/collections/$cid/outputs/$oid")], 404,
         'deleted twice', qr/output/);
($sl, $L) = $api->call(GET => "/collections/$cid/outputs");
is(scalar @{ $L->{outputs} }, 3, 'three left');

# ------------------------------------------- a deleted collection's outputs

# they leave the store with the collection (the store, read directly);
# the outputs of other collections stay
SKIP: {
    skip 'sqlite3 is not installed', 13 unless -x '/usr/bin/sqlite3';
    my $sql = sub {
        my $r = `sqlite3 '$db' "$_[0]" 2>&1`;
        die "sqlite3: $r" if $?;
        chomp $r;
        return $r;
    };
    my $gone = $api->create_collection->{collectionId};
    for my $i (1 .. 2) {
        my ($s) = $api->call(POST => "/collections/$gone/outputs",
                             body => { type => 'udp', config => {
                                 host => 'example.org', port => $i } });
        is($s, 201, "output $i of a collection to delete");
    }
    is($sql->('SELECT count(*) FROM outputs'), 5, 'five outputs stored');
    my ($sd) = $api->call(DELETE => "/collections/$gone");
    is($sd, 204, 'the collection deleted');
    is_error([$api->call(GET => "/collections/$gone/outputs")], 404,
             'its outputs cannot be reached', qr/collection/);
    is($sql->('SELECT count(*) FROM outputs'), 3,
       'its outputs are gone from the store, the others stay');

    # outputs left behind by collections deleted before (an older store)
    # go when the store is migrated
    $t->stop;
    $sql->("INSERT INTO outputs (id, collection_id, type, enabled, config,"
           . " since, revision) VALUES (4242, 4343, 1, 1, '{}', 1, 1)");
    is($sql->('SELECT count(*) FROM outputs'), 4, 'an orphaned output');
    $sql->('PRAGMA user_version = 4');
    $t->start;
    is($sql->('SELECT count(*) FROM outputs WHERE id = 4242'), 0,
       'an orphaned output is removed by the migration');
    ($sl, $L) = $api->call(GET => "/collections/$cid/outputs");
    is(scalar @{ $L->{outputs} }, 3, 'the others stay');
}

$t->finish;
done_testing;
