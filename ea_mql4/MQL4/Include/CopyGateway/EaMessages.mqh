//+------------------------------------------------------------------+
//| EaMessages.mqh -- CCopyGatewayEa: the messages it queues for     |
//| the gateway (size-checked), and the server messages it handles   |
//| in order (a deferred trade holds the rest back).                 |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_EAMESSAGES_MQH
#define COPYGATEWAY_EAMESSAGES_MQH

#include <CopyGateway/EaDeclaration.mqh>

//--- false (and an alert on the chart and to the server) when the gateway would
//--- refuse `json` for its size: such a message is dropped, never retried
bool CCopyGatewayEa::FitsTheWire(const string json)
  {
   int bytes=CgUtf8Bytes(json);
   if(bytes<=CG_MAX_MESSAGE_BYTES)
      return(true);
   string type=CgEnvelopeType(json);
   string text="CopyGateway: "+type+" of "+IntegerToString(bytes)+" bytes exceeds the gateway's size limit; dropped";
   Alert(text);
   Comment(text);
   QueueAlert("payload_too_large","error",type+" of "+IntegerToString(bytes)+" bytes dropped","");
   return(false);
  }

void CCopyGatewayEa::Queue(const string json)
  {
   if(!FitsTheWire(json))
      return;
   if(m_outbox.Add(json))
      SaveOutbox();
  }

void CCopyGatewayEa::QueueFront(const string json)
  {
   if(FitsTheWire(json))
      m_outbox.AddFront(json);
  }

void CCopyGatewayEa::QueueInitRequest(void)
  {
   SAccountInfo a;
   SSymbolSpec symbols[];
   CgReadAccount(a);
   CgReadSymbols(symbols,m_safety);
   QueueFront(CgEncodeInitRequest(NextId(),m_clock.NowMs(),m_inbox.AckSeq(),a,symbols,
                                  m_cfg.transport==CG_TRANSPORT_WS));
  }

//--- a snapshot that fits one message goes whole (as to any gateway); a larger
//--- one in parts of CG_SNAPSHOT_PART_BYTES when the gateway assembles parts
//--- (InitAck.max_snapshot_parts), else it is dropped with an alert (FitsTheWire)
void CCopyGatewayEa::QueueSnapshot(const string request_id)
  {
   SAccountInfo a;
   SOrderRow rows[];
   CgReadAccount(a);
   if(IsMaster())
      CgReadRows(rows,m_cfg.master_magic_filter,m_safety);
   else
      CgReadRows(rows,m_cfg.magic,m_safety);
   long now=m_clock.NowMs();
   string whole=CgEncodeSyncSnapshot(NextId(),now,rows,a,request_id);
   if(m_snapshot_parts<=0 || CgUtf8Bytes(whole)<=CG_MAX_MESSAGE_BYTES)
     {
      Queue(whole);
      return;
     }
   SOrderRow ordered[];
   int starts[];
   CgSnapshotWireOrder(rows,ordered);
   int parts=CgPlanSnapshotParts(ordered,CG_SNAPSHOT_PART_BYTES,starts);
   if(parts>m_snapshot_parts)
     {
      string text="CopyGateway: a SyncSnapshot of "+IntegerToString(ArraySize(rows))+" orders needs "+
                  IntegerToString(parts)+" parts, the gateway takes at most "+IntegerToString(m_snapshot_parts)+"; dropped";
      Alert(text);
      Comment(text);
      QueueAlert("payload_too_large","error","SyncSnapshot of "+IntegerToString(parts)+" parts dropped","");
      return;
     }
   string snapshot_id=NextId();
   for(int k=0;k<parts;k++)
     {
      int to=(k+1<parts ? starts[k+1] : ArraySize(ordered));
      Queue(CgEncodeSnapshotRange(NextId(),now,ordered,starts[k],to,a,request_id,snapshot_id,k+1,parts));
     }
   Print("CopyGateway: SyncSnapshot of ",ArraySize(rows)," orders sent in ",parts," parts (",snapshot_id,")");
  }

void CCopyGatewayEa::QueueHeartbeat(void)
  {
   SAccountInfo a;
   CgReadAccount(a);
   Queue(CgEncodeHeartbeat(NextId(),m_clock.NowMs(),m_inbox.AckSeq(),a));
  }

void CCopyGatewayEa::QueueAlert(const string code,const string severity,const string message,const string ref_id)
  {
   Queue(CgEncodeErrorAlert(NextId(),m_clock.NowMs(),code,severity,message,ref_id));
  }

//--- false when the command waits for a later tick (a deferred retry)
bool CCopyGatewayEa::HandleCommand(const SServerMessage &m,const long now)
  {
   if(IsMaster())
     {
      QueueAlert("not_a_follower","error","this EA runs in master mode; OrderCommand "+m.command.command_id+" ignored",m.id);
      return(true);
     }
   string stored;
   if(m_journal.Find(m.command.command_id,stored) && stored!="")
     {
      Queue(stored);  // duplicate delivery: answer again, never trade twice
      return(true);
     }
   SExecutionReport r;
   bool resumed=(m.command.command_id==m_exec.Command());
   m_exec.BeginCommand(m.command.command_id);
   bool in_flight=(m_journal.Find(m.command.command_id,stored) && stored=="");
   bool opening=(m.command.action=="open" || m.command.action=="place_pending");
   int done=(in_flight && opening ? m_exec.FindCommandOrder(m.command) : 0);
   bool finished=false;
   if(done>0)
     {
      // OrderSend went through before a crash (or before a deferred retry, e.g.
      // after a timeout): the command tag in the comment finds the order
      if(!resumed)
         Print("CopyGateway: command ",m.command.command_id," was already executed as #",done," before a restart");
      finished=m_exec.Recover(m.command,done,now,r);
      m_tickets.Set(m.command.master_account_id,m.command.master_ticket,done,m.command.symbol);
     }
   else
     {
      if(!in_flight)
        {
         m_journal.Add(m.command.command_id,"");  // in-flight marker
         if(!m_store.Write("journal.json",m_journal.Serialize()))
            return(false);  // never trade what could not be marked: OnTimer stops the EA
        }
      finished=m_exec.Execute(m.command,now,m_safety,m_tickets,r);
     }
   if(!finished)
     {
      // a retry waits for a later tick: heartbeats and transport go on meanwhile
      m_backlog.WaitUntil(now+m_exec.RetryAfterMs());
      m_store.Write("tickets.json",m_tickets.Serialize());
      if(!resumed)
         Print("CopyGateway: ",m.command.action," ",m.command.symbol," (master #",m.command.master_ticket,") waits: error ",
               m_exec.LastError(),(m_exec.LastError()==ERR_TRADE_MODIFY_DENIED ? " (within the freeze level)" : ""),
               ", retrying on a later tick");
      return(false);
     }
   string report=CgEncodeExecutionReport(NextId(),m_clock.NowMs(),r);
   m_journal.Add(m.command.command_id,report);
   SaveFollower();
   Queue(report);
   Print("CopyGateway: ",m.command.action," ",m.command.symbol," (master #",m.command.master_ticket,") -> ",r.status,
         (r.has_error_code ? " error "+IntegerToString(r.error_code) : ""),
         (r.error_message!="" ? " ("+r.error_message+")" : ""));
   return(true);
  }

//--- false when `m` must be handled again later (a deferred trade)
bool CCopyGatewayEa::Handle(const SServerMessage &m,const long now)
  {
   switch(m.kind)
     {
      case CG_MSG_INVALID:
         Print("CopyGateway: dropped an invalid server message ",m.id,": ",m.error);
         QueueAlert("invalid_message","warning",m.error,m.id);
         break;
      case CG_MSG_INIT_ACK:
        {
         m_session.OnInitAck(m.heartbeat_interval_s,m.heartbeat_timeout_s,now);
         Print("CopyGateway: session ready (role ",(m.role=="" ? "unassigned" : m.role),", heartbeat ",
               DoubleToString(m.heartbeat_interval_s,1)," s)");
         string mine=(IsMaster() ? "master" : "follower");
         if((m.role=="master" || m.role=="follower") && m.role!=mine)
           {
            QueueAlert("role_mismatch","error","EA runs as "+mine+" but the account is a "+m.role,m.id);
            Alert("CopyGateway: the gateway says this account is a ",m.role,", but InpRole is ",mine,". Fix InpRole.");
           }
         m_snapshot_parts=(m.max_snapshot_parts>1000 ? 1000 : (int)m.max_snapshot_parts);
         m_snapshot_due=true;
         break;
        }
      case CG_MSG_STATE_CHANGE:
         if(m.state=="closed")
            m_session.OnClosed(m.reason,-1,now);
         else
            m_session.OnStateChange(m.state);
         break;
      case CG_MSG_ORDER_COMMAND:
         return(HandleCommand(m,now));
      case CG_MSG_SNAPSHOT_REQUEST:
         QueueSnapshot(m.request_id);
         break;
      case CG_MSG_ERROR_ALERT:
         Print("CopyGateway: server ",m.severity," ",m.code,": ",m.message);
         if(m.severity=="critical")
            Alert("CopyGateway: ",m.message);
         break;
      case CG_MSG_RECEIPT:
         if(m_outbox.Confirm(m.receipt_ids))
            SaveOutbox();
         break;
      case CG_MSG_SHUTDOWN:
         Print("CopyGateway: server closes the session: ",m.reason);
         m_session.OnClosed(m.reason,m.reconnect_after_s,now);
         break;
     }
   return(true);
  }

//--- new server messages join the backlog behind the ones still waiting
void CCopyGatewayEa::Enqueue(const SServerMessage &msgs[])
  {
   // a Receipt takes effect at once, also behind a deferred trade (confirming
   // twice is harmless); it is acknowledged in order like every message. So does
   // an `overloaded` refusal: the intent and all after it stay unconfirmed (on
   // disk), nothing more is written on this connection, and the close 1008 that
   // follows waits retry.after_ms, then resends them first on the same session
   for(int i=0;i<ArraySize(msgs);i++)
     {
      if(msgs[i].kind==CG_MSG_RECEIPT && m_outbox.Confirm(msgs[i].receipt_ids))
         SaveOutbox();
      if(msgs[i].kind==CG_MSG_ERROR_ALERT && msgs[i].code=="overloaded")
         m_session.OnOverloaded(msgs[i].retry_after_ms);
     }
   m_backlog.Add(msgs);
  }

//--- handle waiting messages in order; a deferred trade holds the rest (and
//--- ack_seq) back until its retry on a later tick
void CCopyGatewayEa::ProcessPending(const long now)
  {
   while(m_backlog.Ready(now))
     {
      if(!m_session.IsOpen() || m_store.Failure()!="")
         break;  // closed/stopped, or state no longer saved: not ours to act on now
      SServerMessage m;
      m_backlog.First(m);
      if(!Handle(m,now))
         break;
      m_inbox.MarkProcessed(m);
      m_backlog.RemoveFirst();
     }
  }

#endif
