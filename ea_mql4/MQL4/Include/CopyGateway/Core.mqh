//+------------------------------------------------------------------+
//| Core.mqh -- every pure module of the EA (no terminal, no I/O).   |
//| This is exactly the set compiled with g++ for the protocol-core  |
//| tests; the terminal-facing modules include it.                   |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_CORE_MQH
#define COPYGATEWAY_CORE_MQH

#include <CopyGateway/JsonWriter.mqh>
#include <CopyGateway/JsonDoc.mqh>
#include <CopyGateway/Messages.mqh>
#include <CopyGateway/MessageEncoders.mqh>
#include <CopyGateway/MessageDecoders.mqh>
#include <CopyGateway/Session.mqh>
#include <CopyGateway/Inbox.mqh>
#include <CopyGateway/Journal.mqh>
#include <CopyGateway/Outbox.mqh>
#include <CopyGateway/TicketMap.mqh>
#include <CopyGateway/TradeMath.mqh>
#include <CopyGateway/Safety.mqh>
#include <CopyGateway/Snapshot.mqh>
#include <CopyGateway/WsCodec.mqh>

#endif
