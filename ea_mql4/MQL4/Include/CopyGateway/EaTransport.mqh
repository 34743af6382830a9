//+------------------------------------------------------------------+
//| EaTransport.mqh -- CCopyGatewayEa: session creation and the      |
//| two transports (poll exchange over WebRequest, WebSocket)        |
//| that carry the outbox out and the server messages in.            |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_EATRANSPORT_MQH
#define COPYGATEWAY_EATRANSPORT_MQH

#include <CopyGateway/EaDeclaration.mqh>

//--- how many outbox messages the next exchange body carries (count and bytes capped)
int CCopyGatewayEa::BatchSize(void)
  {
   int limit=(int)MathMin(m_outbox.Count(),m_batch_limit);
   int bytes=0;
   for(int i=0;i<limit;i++)
     {
      bytes+=CgUtf8Bytes(m_outbox.At(i))+1;
      if(i>0 && bytes>CG_MAX_BODY_BYTES)
         return(i);
     }
   return(limit);
  }

//--- the first `count` messages were delivered (poll: the 200 confirms its body)
void CCopyGatewayEa::RemoveFront(const int count)
  {
   if(m_outbox.RemoveFront(count))
      SaveOutbox();
  }

//--- WebSocket: write what is queued; a written report waits for its Receipt
int CCopyGatewayEa::WriteQueued(void)
  {
   int sent=0;
   while(sent<m_outbox.Count() && m_ws.SendText(m_outbox.At(sent)))
     {
      m_outbox.Written(sent);
      sent++;
     }
   RemoveFront(sent);
   return(sent);
  }

//--- session creation
void CCopyGatewayEa::CreateSession(const long now)
  {
   string response;
   long retry_after=-1;
   m_http.SetTimeout(m_cfg.http_timeout_ms);
   int status=m_http.Request("POST",Url("/ea-gateway/v1/sessions"),"",
                             CgEncodeSessionCreate(m_account,m_key,TerminalInfoInteger(TERMINAL_BUILD)),
                             response,retry_after);
   SSessionCreated created;
   if(status==201 && CgDecodeSessionCreated(response,created))
     {
      m_session.OnCreated(created,now);
      m_ws_was_open=false;
      Print("CopyGateway: session ",created.session_id," is ",created.state);
      if(created.state=="pending")
         Print("CopyGateway: waiting for the back-office to approve this EA's key (account ",m_account,")");
      return;
     }
   string code,message;
   CgDecodeErrorBody(response,code,message);
   if(status==-1)
      Print("CopyGateway: gateway unreachable (error ",m_http.LastError(),")");
   else
      Print("CopyGateway: session refused: HTTP ",status," ",code," ",message);
   m_session.OnCreateFailed(status,code,retry_after,now);
  }

//--- a 413: send one message per body; a lone message refused is dropped, never retried
void CCopyGatewayEa::OnBodyTooLarge(const int n)
  {
   m_batch_limit=1;
   if(n!=1)
      return;
   string type=CgEnvelopeType(m_outbox.At(0));
   RemoveFront(1);
   string text="CopyGateway: the gateway refused a "+type+" for its size (HTTP 413); dropped";
   Alert(text);
   Comment(text);
   QueueAlert("payload_too_large","error",type+" refused with HTTP 413 and dropped","");
  }

//--- poll transport
void CCopyGatewayEa::PumpPoll(const long now)
  {
   if(!m_session.CanExchange(now))
      return;
   int n=BatchSize();
   if(n==0 && now<m_next_poll_ms)
      return;
   // while a deferred trade holds the queue the server re-sends what is above
   // ack_seq at once: poll at the idle period then, without a hold
   bool waiting=(m_backlog.Count()>0);
   int wait=(n==0 && !IsMaster() && !waiting ? m_cfg.poll_wait_ms : 0);
   long ack=m_inbox.AckSeq();
   string url=Url("/ea-gateway/v1/sessions/"+m_session.SessionId()+"/exchange");
   string response;
   long retry_after=-1;
   m_http.SetTimeout(m_cfg.http_timeout_ms+wait);
   int status=m_http.Request("POST",url,m_session.Token(),m_outbox.Exchange(n,ack,wait),response,retry_after);
   string code,message;
   if(status!=200)
     {
      CgDecodeErrorBody(response,code,message);
      if(status==413)
         OnBodyTooLarge(n);
      if(status==-1)
         Print("CopyGateway: exchange failed (error ",m_http.LastError(),")");
      else
         Print("CopyGateway: exchange answered HTTP ",status," ",code);
      m_session.OnExchangeResult(status,code,retry_after,now);
      return;
     }
   m_session.OnExchangeResult(200,"",-1,now);
   m_batch_limit=CG_MAX_BATCH;
   RemoveFront(n);
   OnDelivered(ack);
   m_next_poll_ms=now+(IsMaster() || waiting ? m_cfg.idle_poll_ms : 0);
   CJsonDoc doc;
   if(!doc.Parse(response))
     {
      Print("CopyGateway: unreadable exchange answer: ",doc.Error());
      return;
     }
   string state;
   if(doc.GetString(doc.Root(),"state",state))
      m_session.OnStateChange(state);
   SServerMessage msgs[];
   m_inbox.Route(doc,doc.Find(doc.Root(),"messages"),msgs);
   Enqueue(msgs);
  }

//--- WebSocket transport
void CCopyGatewayEa::PumpWs(const long now)
  {
   if(!m_ws.IsOpen())
     {
      if(m_ws_was_open)
        {
         int code=m_ws.CloseCode();
         Print("CopyGateway: WebSocket closed (",code,") ",m_ws.Error());
         m_ws_was_open=false;
         m_session.OnWsClosed(code,now);
         return;
        }
      if(!m_session.CanExchange(now))
         return;
      if(!m_ws.Connect(m_cfg.ws_url,m_session.Token(),m_cfg.http_timeout_ms))
        {
         Print("CopyGateway: WebSocket connect failed: ",m_ws.Error());
         if(m_ws.CloseCode()==4003)
            m_session.OnExchangeResult(401,"invalid_token",-1,now);
         else
            m_session.OnExchangeResult(-1,"",-1,now);
         return;
        }
      m_ws_was_open=true;
      m_outbox.RequeueUnconfirmed();
      // a heartbeat ahead of the resent intents: when one is refused (overloaded)
      // nothing after it is read, and heartbeats queued behind refused intents
      // would let the session time out while it backs off and resends
      SAccountInfo a;
      CgReadAccount(a);
      QueueFront(CgEncodeHeartbeat(NextId(),m_clock.NowMs(),m_inbox.AckSeq(),a));
      m_session.HeartbeatSent(now);
      QueueInitRequest();  // every connection starts with InitRequest{ack_seq, receipts}
     }
   long ack=m_inbox.AckSeq();
   if(!m_session.Overloaded() && WriteQueued()>0)
      OnDelivered(ack);
   string texts[];
   m_ws.Poll(texts);
   for(int i=0;i<ArraySize(texts);i++)
     {
      CJsonDoc doc;
      SServerMessage msgs[];
      if(!doc.Parse(texts[i]))
        {
         QueueAlert("malformed_json","warning","unreadable frame: "+doc.Error(),"");
         continue;
        }
      m_inbox.RouteOne(doc,doc.Root(),msgs);
      Enqueue(msgs);
     }
  }

#endif
